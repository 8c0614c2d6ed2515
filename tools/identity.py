"""verify_identity: right-party verification by full name + date of birth (rule 28).

Candidates are the patients found by the caller's phone (`state.candidate_patient_ids`); if none of
them match, the PMS is searched by name + DOB. Both the name and the DOB must match one patient.
Names compare tolerant of case, accents, hyphens, apostrophes and spacing, and a middle name may be
added; nicknames and initials are not accepted. Failure messages never say which part was wrong
or whether a record exists. After `verification.max_attempts` failures the caller is locked out.

Only the patient themself can be verified here: a caller speaking for someone else (family,
estate, guardian), a match on a deceased patient, or a minor whose account is held by someone else
is handed to staff, who run the authorised-representative process.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from pydantic import Field, model_validator

from pms.types import Patient
from tools.base import LOCKED_OUT_MESSAGE, Tool, ToolArgs, today
from tools.context import CallerState, ToolContext, ToolResult
from tools.parsing import parse_dob

NO_MATCH_MESSAGE = (
    "I'm sorry, I wasn't able to verify those details. Could you say your full name and date of birth again?"
)
REPRESENTATIVE_MESSAGE = (
    "I can only go over this with the person themself on this line. A member of our office team can help "
    "with authorised representatives: I can transfer you or have someone call you back."
)
DOB_UNCLEAR_MESSAGE = "I didn't catch the date of birth. Could you say it with the month, day and year?"


class VerifyIdentityArgs(ToolArgs):
    first_name: str | None = Field(
        None, max_length=80, description="The caller's first name, as they said it."
    )
    last_name: str | None = Field(None, max_length=80, description="The caller's last name, as they said it.")
    full_name: str | None = Field(
        None, max_length=160, description="The full name as said, if not split into first and last."
    )
    date_of_birth: str = Field(
        min_length=4, max_length=120, description="The date of birth exactly as the caller said or typed it."
    )
    for_someone_else: bool = Field(
        False,
        description="True if the caller says they are calling for another person (family, estate, etc.).",
    )

    @model_validator(mode="after")
    def _some_name(self) -> VerifyIdentityArgs:
        if not self.full_name and not (self.first_name and self.last_name):
            raise ValueError("give full_name, or both first_name and last_name")
        return self


def _norm(text: str) -> str:
    """Casefold, strip accents, treat hyphens/apostrophes/periods as spaces, collapse whitespace."""
    decomposed = unicodedata.normalize("NFKD", text)
    no_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = re.sub(r"[-'’.,_]", " ", no_marks.casefold())
    return " ".join(cleaned.split())


def _squash(text: str) -> str:
    return _norm(text).replace(" ", "")


def name_matches(patient: Patient, *, first: str | None, last: str | None, full: str | None) -> bool:
    """Exact (normalised) first and last name; a middle name, "Last, First" and compound names allowed.

    "Jon" for "John", "J Smith" or "Jane Smith" for "John Smith" all fail.
    """
    p_first_tokens = _norm(patient.first_name).split()
    p_last = _squash(patient.last_name)
    if not p_first_tokens or not p_last:
        return False
    firsts = {"".join(p_first_tokens), p_first_tokens[0]}  # "John M" on file also matches "John"
    if first and last:
        said = _norm(first).split()
        if _squash(last) == p_last and any("".join(said[:i]) in firsts for i in range(1, len(said) + 1)):
            return True
    if full:
        if "," in full:
            last_part, _, first_part = full.partition(",")
            return name_matches(patient, first=first_part, last=last_part, full=None)
        tokens = _norm(full).split()
        for i in range(1, len(tokens)):
            if "".join(tokens[:i]) not in firsts:
                continue
            if any("".join(tokens[k:]) == p_last for k in range(i, len(tokens))):
                return True
    return False


def _age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


class VerifyIdentity(Tool):
    name = "verify_identity"
    description = (
        "Verify the caller is the patient: pass the full name and the date of birth exactly as they said "
        "them. Required before anything about their account can be discussed. Never guess or fill in values."
    )
    Args = VerifyIdentityArgs
    requires_verification = False
    sensitive_args = frozenset({"date_of_birth", "first_name", "last_name", "full_name"})

    def available(self, state: CallerState) -> bool:
        return not state.verified and not state.locked_out

    async def run(self, ctx: ToolContext, state: CallerState, args: VerifyIdentityArgs) -> ToolResult:
        if state.verified:
            return ToolResult(ok=True, message="You're already verified.", data={"verified": True})
        if state.locked_out:
            return ToolResult.refuse(
                "locked_out", LOCKED_OUT_MESSAGE, suggest=["schedule_callback", "transfer"]
            )
        if args.for_someone_else:
            state.third_party = True
            await self._audit(ctx, state, None, "representative")
            return ToolResult.refuse(
                "representative", REPRESENTATIVE_MESSAGE, suggest=["transfer", "callback"]
            )
        day = today(ctx)
        dob = parse_dob(args.date_of_birth, day)
        if dob is None:
            return ToolResult.refuse("unclear_dob", DOB_UNCLEAR_MESSAGE)
        match = await self._find(ctx, state, args, dob)
        if match is None:
            return await self._fail(ctx, state)
        if match.status == "deceased" or "deceased" in match.flags:
            state.third_party = True
            await self._audit(ctx, state, match.patient_id, "deceased_match")
            return ToolResult.refuse(
                "representative", REPRESENTATIVE_MESSAGE, suggest=["transfer", "callback"]
            )
        if (
            match.guarantor_id != match.patient_id
            and match.date_of_birth
            and _age(match.date_of_birth, day) < 18
        ):
            state.third_party = True
            await self._audit(ctx, state, match.patient_id, "minor_not_guarantor")
            return ToolResult.refuse(
                "representative", REPRESENTATIVE_MESSAGE, suggest=["transfer", "callback"]
            )
        state.verified = True
        state.third_party = False
        state.patient_id = match.patient_id
        state.guarantor_id = match.guarantor_id
        await self._audit(ctx, state, match.patient_id, "verified")
        return ToolResult(
            ok=True,
            message=f"Thank you, {match.first_name}. You're verified.",
            data={"verified": True, "first_name": match.first_name, "language": match.language},
        )

    async def _find(
        self, ctx: ToolContext, state: CallerState, args: VerifyIdentityArgs, dob: date
    ) -> Patient | None:
        def ok(p: Patient | None) -> bool:
            return (
                p is not None
                and p.date_of_birth == dob
                and name_matches(p, first=args.first_name, last=args.last_name, full=args.full_name)
            )

        for pid in state.candidate_patient_ids:
            p = await ctx.pms.get_patient(pid)
            if ok(p):
                return p
        found: dict[str, Patient] = {}
        for first, last in _lookup_names(args):
            for p in await ctx.pms.find_patients_by_name_dob(first, last, dob):
                found.setdefault(p.patient_id, p)
        matches = [p for p in found.values() if ok(p)]
        # two different people with the same name and birthday: refuse rather than pick one
        return matches[0] if len(matches) == 1 else None

    async def _fail(self, ctx: ToolContext, state: CallerState) -> ToolResult:
        state.verification_attempts += 1
        limit = ctx.policy.verification.max_attempts
        if state.verification_attempts >= limit:
            state.locked_out = True
            await self._audit(ctx, state, None, "locked_out")
            return ToolResult.refuse(
                "locked_out", LOCKED_OUT_MESSAGE, suggest=["schedule_callback", "transfer_to_human"]
            )
        await self._audit(ctx, state, None, "no_match")
        return ToolResult.refuse(
            "not_matched", NO_MATCH_MESSAGE, attempts_left=limit - state.verification_attempts
        )

    async def _audit(self, ctx: ToolContext, state: CallerState, patient_id: str | None, result: str) -> None:
        await ctx.records.audit(
            f"identity.{result}",
            patient_id=patient_id,
            conversation_id=state.conversation_id,
            detail={"attempts": state.verification_attempts, "channel": state.channel},
        )


def _lookup_names(args: VerifyIdentityArgs) -> list[tuple[str, str]]:
    """(first, last) pairs to search the PMS with; the PMS may match exactly, so try the plausible splits."""
    pairs: list[tuple[str, str]] = []
    if args.first_name and args.last_name:
        pairs.append((args.first_name, args.last_name))
        pairs.append(
            (_norm(args.first_name).split()[0] if _norm(args.first_name) else args.first_name, args.last_name)
        )
    if args.full_name:
        if "," in args.full_name:
            last, _, first = args.full_name.partition(",")
            pairs.append((first.strip(), last.strip()))
        else:
            tokens = args.full_name.split()
            for i in range(1, len(tokens)):
                pairs.append((" ".join(tokens[:i]), " ".join(tokens[i:])))
            if len(tokens) > 2:
                pairs.append((tokens[0], tokens[-1]))
    unique: list[tuple[str, str]] = []
    for pair in pairs:
        if pair not in unique and all(pair):
            unique.append(pair)
    return unique[:6]
