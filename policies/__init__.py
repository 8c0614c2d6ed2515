"""Pure practice rules: no I/O, no wall clock, no globals beyond memo caches of pure look-ups.

- `config`: the validated practice policy (`load_policy`); `demo_policy.yaml` documents every knob.
- `types`: the data the functions speak (ContactAction, ContactHistory, Decision, PlanTerms, ...).
- `compliance.check(action, patient, account, history, policy, now) -> Decision`, `explain(decision)`.
  Built on `timezones` (candidate zones, rule 6), `windows` (DST-safe windows across zones) and
  `caps` (frequency caps and pauses that expire).
- `plans.offer/options/validate/terms_for_monthly`: payment-plan terms exact to the cent.
- `scoring.prioritise(account, history, policy, today) -> Priority`: worklist tier, score, reasons.
- `messages.lint(text, *, verified, policy, channel, ...) -> list[Violation]`: content rules.
- `keywords.classify_sms(body, opt_out_type=None, *, suppressed=False) -> KeywordResult`.
- `redaction.redact(text)`, `redaction.contains_card_number(text)`: PCI/PHI scrubbing.

Only `pms.types` is imported from the rest of BalanceLine.
"""
