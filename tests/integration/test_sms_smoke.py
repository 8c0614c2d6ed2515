from pms.demo.personas import PERSONAS
from tests.integration.harness import App


def test_balance_question_requires_identity_then_answers(app: App) -> None:
    p = PERSONAS["prompt_payer"]
    r = app.text(p.phone, "what do I owe?")
    assert r.status_code == 200, r.text
    first = app.replies_to(p.phone)
    print(first)
    assert first
    dob = p.date_of_birth.strftime("%m/%d/%Y")
    app.text(p.phone, f"{p.name} {dob}")
    replies = app.replies_to(p.phone)
    print(replies)
    assert "240.00" in replies[-1]
