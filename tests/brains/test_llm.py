"""LlmBrain through the real openai SDK against the loopback OpenAI server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from agent.brains.base import TextChunk
from agent.brains.llm import LlmBrain, make_llm_brain
from agent.brains.rules import RulesBrain
from tests.brains.conftest import NOW, POLICY, Chat
from tests.fakes.openai_server import Fail, Hang, OpenAIFake, Reply, ToolCall
from tests.phi_scan import leaked


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


_made: list[LlmBrain] = []


@pytest.fixture
async def fake(server: OpenAIFake) -> AsyncIterator[OpenAIFake]:
    server.reset()
    yield server
    while _made:
        await _made.pop().client.close()


def brain(fake: OpenAIFake, **options: Any) -> LlmBrain:
    options.setdefault("first_token_timeout", 2.0)
    options.setdefault("total_timeout", 5.0)
    made = make_llm_brain(
        "test-key",
        fake.base_url,
        "gpt-test",
        POLICY,
        RulesBrain(POLICY, clock=lambda: NOW),
        clock=lambda: NOW,
        **options,
    )
    _made.append(made)
    return made


async def verified_chat(fake: OpenAIFake, channel: str = "sms", **options: Any) -> Chat:
    chat = Chat(brain(fake, **options), channel)
    chat.conv.state.verified, chat.conv.state.patient_id, chat.conv.state.guarantor_id = True, "p1", "p1"
    return chat


def texts(chat: Chat) -> list[str]:
    return [e.text for e in chat.events if isinstance(e, TextChunk)]


def sent(fake: OpenAIFake) -> str:
    return json.dumps(fake.requests)


async def test_plain_text_streams_in_pieces(fake: OpenAIFake) -> None:
    fake.script(
        Reply(text="Hi there! I can help with that, whenever you're ready. What do you need?", chunk_size=3)
    )
    chat = Chat(brain(fake), "voice")
    reply = await chat.say("hello")
    assert reply == "Hi there! I can help with that, whenever you're ready. What do you need?"
    assert len(texts(chat)) >= 3  # released clause by clause, so voice can start early
    body = fake.requests[0]
    assert body["stream"] is True and body["model"] == "gpt-test"
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False
    assert {t["function"]["name"] for t in body["tools"]} >= {"verify_identity", "transfer_to_human"}
    assert "lookup_balance" not in {t["function"]["name"] for t in body["tools"]}  # not verified yet
    assert body["messages"][0]["role"] == "system" and "Bright Smile Dental" in body["messages"][0]["content"]
    assert body["messages"][-1] == {"role": "user", "content": "hello"}
    assert [m["role"] for m in body["messages"]].count("user") == 1  # the turn is not sent twice


async def test_tool_round_then_text_feeds_the_result_back(fake: OpenAIFake) -> None:
    call = ToolCall("lookup_balance", "{}")
    fake.script(Reply(tool_calls=(call,)), Reply(text="Your current balance is $450.00."))
    chat = await verified_chat(fake)
    reply = await chat.say("what do I owe?")
    assert reply == "Your current balance is $450.00."
    assert [e.name for e in chat.tool_events()] == ["lookup_balance"]
    second = fake.requests[1]["messages"]
    assert second[-2]["role"] == "assistant" and second[-2]["tool_calls"][0]["id"] == call.id
    tool_msg = second[-1]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == call.id
    result = json.loads(tool_msg["content"])
    assert result["ok"] is True and result["data"]["patient_balance"] == "450.00"


async def test_two_sequential_tool_calls_with_the_dob_kept_from_the_model(fake: OpenAIFake) -> None:
    fake.script(
        Reply(
            text="Thanks. ",
            tool_calls=(
                ToolCall("verify_identity", '{"full_name": "Jane Doe", "date_of_birth": "[date of birth]"}'),
            ),
        ),
        Reply(tool_calls=(ToolCall("lookup_balance", "{}"),)),
        Reply(text="You're verified. Your balance is $450.00."),
    )
    chat = Chat(brain(fake), "voice")
    reply = await chat.say("I'm Jane Doe, my birthday is 03/14/1985, what do I owe?")
    assert chat.tools.calls[0] == (
        "verify_identity",
        {"full_name": "Jane Doe", "date_of_birth": "03/14/1985"},
    )
    assert chat.tools.names == ["verify_identity", "lookup_balance"]
    assert chat.tool_events()[0].arguments["date_of_birth"] == "[date of birth]"
    assert "$450.00" in reply
    everything = sent(fake)
    assert leaked(everything, ["03/14/1985", "1985"]) == []  # as words: ids are random
    assert "[date of birth]" in fake.requests[0]["messages"][-1]["content"]
    assert "lookup_balance" in {t["function"]["name"] for t in fake.requests[2]["tools"]}  # verified now


async def test_dob_given_in_an_earlier_turn_is_used_and_never_sent(fake: OpenAIFake) -> None:
    fake.script(
        Reply(text="Thanks. And your full name?"),
        Reply(
            tool_calls=(
                ToolCall("verify_identity", '{"full_name": "Jane Doe", "date_of_birth": "[date of birth]"}'),
            )
        ),
        Reply(text="Thank you, you're verified."),
    )
    chat = Chat(brain(fake), "sms")
    await chat.say("march 14 1985")
    await chat.say("Jane Doe")
    assert chat.tools.calls == [
        ("verify_identity", {"full_name": "Jane Doe", "date_of_birth": "march 14 1985"})
    ]
    assert "dob" not in chat.conv.memory["llm"]
    assert leaked(sent(fake), ["1985"]) == []


async def test_arguments_split_across_many_chunks(fake: OpenAIFake) -> None:
    fake.script(
        Reply(tool_calls=(ToolCall("offer_plan", '{"monthly": "75.00"}'),), chunk_size=1),
        Reply(text="I can do $75.00 a month for 6 months."),
    )
    chat = await verified_chat(fake)
    reply = await chat.say("can I do 75 a month")
    assert chat.tools.calls == [("offer_plan", {"monthly": "75.00"})]
    assert reply == "I can do $75.00 a month for 6 months."


async def test_timeout_before_first_token_falls_back_to_rules(fake: OpenAIFake) -> None:
    fake.script(Reply(text="too late", first_token_delay=3.0))
    chat = Chat(brain(fake, first_token_timeout=0.3), "sms")
    reply = await chat.say("what do I owe")
    notices = chat.notices()
    assert notices and notices[0].kind == "fallback" and notices[0].detail["reason"] == "TimeoutError"
    assert "reply with your full name and date of birth" in reply and "too late" not in reply


async def test_slow_headers_and_a_hung_server_fall_back(fake: OpenAIFake) -> None:
    fake.script(Reply(text="late", headers_delay=3.0), Hang())
    for _ in range(2):
        chat = Chat(brain(fake, first_token_timeout=0.3), "voice")
        reply = await chat.say("agent please")
        assert chat.notices()[0].kind == "fallback"
        assert chat.tools.names == ["transfer_to_human"] and "connecting you" in reply


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(Fail(500), "InternalServerError"), (Fail(429, "Rate limit", "requests"), "RateLimitError")],
)
async def test_api_errors_fall_back(fake: OpenAIFake, failure: Fail, reason: str) -> None:
    fake.script(failure)
    chat = await verified_chat(fake)
    reply = await chat.say("what do I owe")
    assert chat.notices()[0].detail["reason"] == reason
    assert chat.tools.names == ["lookup_balance"] and "$450.00" in reply


async def test_connection_error_falls_back() -> None:
    unreachable = make_llm_brain("k", "http://127.0.0.1:9/v1", "gpt-test", POLICY, RulesBrain(POLICY))
    chat = Chat(unreachable, "sms")
    reply = await chat.say("hello")
    await unreachable.client.close()
    assert chat.notices()[0].detail["reason"] in ("APIConnectionError", "APITimeoutError")
    assert reply


async def test_malformed_arguments_once_are_reported_to_the_model(fake: OpenAIFake) -> None:
    fake.script(
        Reply(tool_calls=(ToolCall("send_payment_link", '{"amount": "full"'),)),
        Reply(tool_calls=(ToolCall("send_payment_link", '{"amount": "full"}'),)),
        Reply(text="Here's your link."),
    )
    chat = await verified_chat(fake)
    await chat.say("send me a link")
    assert chat.tools.calls == [("send_payment_link", {"amount": "full"})]
    error = json.loads(fake.requests[1]["messages"][-1]["content"])
    assert error["ok"] is False and "not a valid JSON" in error["message"]
    assert not chat.notices()


async def test_malformed_arguments_twice_fall_back(fake: OpenAIFake) -> None:
    fake.script(
        Reply(tool_calls=(ToolCall("lookup_balance", "{oops"),)),
        Reply(tool_calls=(ToolCall("lookup_balance", "not json"),)),
    )
    chat = await verified_chat(fake)
    reply = await chat.say("what do I owe")
    assert chat.notices()[0].detail["reason"] == "malformed_tool_arguments"
    assert chat.tools.names == ["lookup_balance"] and "$450.00" in reply  # the rules brain answered


async def test_too_many_tool_rounds_end_politely(fake: OpenAIFake) -> None:
    fake.script(*[Reply(tool_calls=(ToolCall("lookup_balance", "{}"),)) for _ in range(3)])
    chat = await verified_chat(fake, max_tool_rounds=2)
    reply = await chat.say("what do I owe")
    assert chat.notices()[0].detail["reason"] == "max_tool_rounds"
    assert chat.tools.names == ["lookup_balance"] * 3  # the rules brain did not start the turn again
    assert "Your current balance is $450.00." in reply and "anything else" in reply


async def test_failure_after_speaking_finishes_with_a_fallback_line(fake: OpenAIFake) -> None:
    fake.script(Reply(text="One moment. Let me look that up for you.", chunk_size=12, stall_after=3))
    chat = await verified_chat(fake, "voice", total_timeout=0.5)
    reply = await chat.say("what do I owe")
    assert chat.notices()[0].kind == "fallback" and chat.tools.calls == []
    assert reply.startswith("One moment.") and "look that up" not in reply
    assert reply.endswith(
        "I'm sorry, I'm having a little trouble on my end. Is there anything else I can help you with?"
    )


async def test_card_numbers_never_reach_the_model(fake: OpenAIFake) -> None:
    fake.script(
        Reply(text="Please don't share card numbers. I can text you a secure link."), Reply(text="Sure.")
    )
    chat = await verified_chat(fake, "voice")
    await chat.say("my card is 4242 4242 4242 4242 exp 12/29 cvv 123")
    await chat.say("ok, and the other one is 4111-1111-1111-1111")
    everything = sent(fake)
    for digits in ("4242 4242 4242 4242", "4242424242424242", "4111-1111-1111-1111", "4111111111111111"):
        assert digits not in everything
    assert "cvv 123" not in everything


async def test_invented_amounts_are_not_said(fake: OpenAIFake) -> None:
    fake.script(Reply(text="Good news! Your balance is $12.00. Anything else?"))
    chat = await verified_chat(fake)
    reply = await chat.say("what do I owe")
    assert "$12.00" not in reply and "exact figure" in reply and "Anything else?" in reply
    assert any(n.kind == "reply_guarded" for n in chat.notices())


async def test_debt_talk_before_verification_is_replaced(fake: OpenAIFake) -> None:
    fake.script(Reply(text="Your balance is overdue. Please verify."))
    chat = Chat(brain(fake), "voice")
    reply = await chat.say("hi who is this")
    assert "overdue" not in reply and "date of birth" in reply


async def test_links_are_not_read_aloud(fake: OpenAIFake) -> None:
    fake.script(
        Reply(tool_calls=(ToolCall("send_payment_link", '{"amount": "full"}'),)),
        Reply(text="Done. I've texted you a secure link: https://pay.example.test/l/abc123 Thanks!"),
    )
    chat = await verified_chat(fake, "voice")
    reply = await chat.say("text me a link")
    assert "http" not in reply and "texted you a secure link" in reply


async def test_repeated_failures_skip_the_llm_for_a_while(fake: OpenAIFake) -> None:
    fake.script(Fail(500), Fail(500))
    chat = await verified_chat(fake)
    await chat.say("what do I owe")
    await chat.say("what do I owe")
    assert len(fake.requests) == 2
    reply = await chat.say("send me a link")
    assert len(fake.requests) == 2  # not asked again
    assert chat.notices()[-1].detail["reason"] == "circuit_open" and "https://pay.example.test" in reply


async def test_a_good_turn_closes_the_circuit(fake: OpenAIFake) -> None:
    fake.script(Fail(500), Reply(text="Hello again."), Fail(500), Reply(text="Still here."))
    chat = await verified_chat(fake)
    for text in ("hi", "hi", "hi", "hi"):
        await chat.say(text)
    assert len(fake.requests) == 4


async def test_history_is_redacted_and_roles_kept(fake: OpenAIFake) -> None:
    fake.script(Reply(text="Okay."))
    chat = await verified_chat(fake)
    chat.conv.add_turn("patient", "my name is Jane Doe born 03/14/1985", NOW)
    chat.conv.add_turn("agent", "Thanks, you're verified.", NOW)
    await chat.say("thanks")
    messages = fake.requests[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "03/14/1985" not in json.dumps(messages) and "[date of birth]" in messages[1]["content"]
    assert "The person is verified." in messages[0]["content"]


async def test_fake_server_answers_non_streaming_requests(fake: OpenAIFake) -> None:
    fake.script(Reply(text="plain"), Reply(tool_calls=(ToolCall("lookup_balance", "{}", id="call_1"),)))
    client = openai.AsyncOpenAI(api_key="k", base_url=fake.base_url, max_retries=0)
    first = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert first.choices[0].message.content == "plain" and first.choices[0].finish_reason == "stop"
    second = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    await client.close()
    call = second.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.id, call.function.name, second.choices[0].finish_reason) == (
        "call_1",
        "lookup_balance",
        "tool_calls",
    )  # type: ignore[union-attr]


async def test_fake_server_streams_the_documented_chunk_shapes(fake: OpenAIFake) -> None:
    fake.script(
        Reply(text="ok", tool_calls=(ToolCall("opt_out", '{"channel": "sms"}', id="call_9"),), chunk_size=5)
    )
    client = openai.AsyncOpenAI(api_key="k", base_url=fake.base_url, max_retries=0)
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    chunks = [c async for c in stream]
    await client.close()
    assert chunks[0].choices[0].delta.role == "assistant"
    heads = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices[0].delta.tool_calls]
    assert (heads[0].index, heads[0].id, heads[0].type, heads[0].function.name) == (
        0,
        "call_9",
        "function",
        "opt_out",
    )  # type: ignore[union-attr]
    assert "".join(h.function.arguments or "" for h in heads) == '{"channel": "sms"}'  # type: ignore[union-attr]
    assert all(h.id is None for h in heads[1:]) and len(heads) > 2
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_a_stray_date_of_birth_is_not_kept(fake: OpenAIFake) -> None:
    fake.script(*[Reply(text="Okay.") for _ in range(4)])
    chat = Chat(brain(fake), "sms")
    await chat.say("my birthday is 03/14/1985")
    assert chat.conv.memory["llm"]["dob"]["span"] == "03/14/1985"
    for text in ("hmm", "never mind", "ok"):
        await chat.say(text)
    assert "dob" not in chat.conv.memory["llm"]
    assert "03/14/1985" not in json.dumps(chat.conv.to_json()["memory"])


async def test_voice_replies_have_no_markdown(fake: OpenAIFake) -> None:
    fake.script(Reply(text="**Sure!** I can _help_ with that. What would you like to do?"))
    chat = Chat(brain(fake), "voice")
    reply = await chat.say("hello")
    assert reply == "Sure! I can help with that. What would you like to do?"
