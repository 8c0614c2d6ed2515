"""Plain-language names for common CDT (dental) and CPT (medical office) procedure codes.

Used only by `explain_charges`, i.e. when the verified patient asked what a charge was for
(minimum necessary, rule 32). Never put these names in payment-processor fields (rule 34).
"""

from __future__ import annotations

import re

CDT: dict[str, str] = {
    # diagnostic: exams
    "D0120": "a routine checkup exam",
    "D0140": "a limited exam for a specific problem",
    "D0145": "an exam for a child under three",
    "D0150": "a comprehensive exam",
    "D0160": "a detailed problem-focused exam",
    "D0170": "a follow-up exam",
    "D0180": "a comprehensive gum (periodontal) exam",
    # diagnostic: x-rays and imaging
    "D0210": "a full set of mouth x-rays",
    "D0220": "a single tooth x-ray",
    "D0230": "an additional tooth x-ray",
    "D0240": "a bite-area x-ray",
    "D0270": "a bitewing x-ray (one image)",
    "D0272": "bitewing x-rays (two images)",
    "D0273": "bitewing x-rays (three images)",
    "D0274": "bitewing x-rays (four images)",
    "D0330": "a panoramic x-ray",
    "D0340": "a skull/jaw x-ray for orthodontics",
    "D0367": "a 3D cone-beam scan",
    "D0431": "an oral cancer screening",
    "D0460": "a tooth vitality test",
    # preventive
    "D1110": "an adult cleaning",
    "D1120": "a child's cleaning",
    "D1206": "a fluoride varnish treatment",
    "D1208": "a fluoride treatment",
    "D1330": "oral hygiene instructions",
    "D1351": "a sealant on a tooth",
    "D1354": "a cavity-arresting medicine on a tooth",
    "D1510": "a space maintainer",
    # fillings
    "D2140": "a silver (amalgam) filling on one surface",
    "D2150": "a silver (amalgam) filling on two surfaces",
    "D2160": "a silver (amalgam) filling on three surfaces",
    "D2161": "a silver (amalgam) filling on four or more surfaces",
    "D2330": "a tooth-colored filling on a front tooth, one surface",
    "D2331": "a tooth-colored filling on a front tooth, two surfaces",
    "D2332": "a tooth-colored filling on a front tooth, three surfaces",
    "D2335": "a tooth-colored filling on a front tooth, four or more surfaces",
    "D2391": "a tooth-colored filling on a back tooth, one surface",
    "D2392": "a tooth-colored filling on a back tooth, two surfaces",
    "D2393": "a tooth-colored filling on a back tooth, three surfaces",
    "D2394": "a tooth-colored filling on a back tooth, four or more surfaces",
    # crowns, inlays, onlays
    "D2510": "a metal inlay",
    "D2542": "a metal onlay",
    "D2610": "a porcelain inlay",
    "D2740": "a porcelain/ceramic crown",
    "D2750": "a porcelain-fused-to-metal crown",
    "D2751": "a porcelain crown on base metal",
    "D2752": "a porcelain crown on noble metal",
    "D2790": "a full gold crown",
    "D2792": "a full metal crown (noble metal)",
    "D2930": "a prefabricated stainless steel crown on a baby tooth",
    "D2931": "a prefabricated stainless steel crown",
    "D2940": "a temporary (protective) filling",
    "D2950": "a core buildup for a crown",
    "D2954": "a post and core for a crown",
    "D2980": "a crown repair",
    # endodontics
    "D3110": "a pulp cap (direct)",
    "D3220": "a pulpotomy (removing part of the nerve)",
    "D3310": "a root canal on a front tooth",
    "D3320": "a root canal on a premolar",
    "D3330": "a root canal on a molar",
    "D3346": "a root canal retreatment on a front tooth",
    "D3347": "a root canal retreatment on a premolar",
    "D3348": "a root canal retreatment on a molar",
    "D3410": "a root-end surgery on a front tooth",
    # periodontics
    "D4210": "gum surgery (four or more teeth per area)",
    "D4249": "crown lengthening",
    "D4341": "a deep cleaning (scaling and root planing), four or more teeth per area",
    "D4342": "a deep cleaning (scaling and root planing), one to three teeth per area",
    "D4346": "a cleaning for inflamed gums",
    "D4355": "a full-mouth debridement",
    "D4381": "an antibiotic placed under the gums",
    "D4910": "a periodontal maintenance cleaning",
    # prosthodontics
    "D5110": "a complete upper denture",
    "D5120": "a complete lower denture",
    "D5213": "an upper partial denture",
    "D5214": "a lower partial denture",
    "D5410": "a denture adjustment",
    "D5750": "a denture reline",
    "D6010": "a dental implant placement",
    "D6056": "an implant abutment",
    "D6058": "an implant-supported porcelain crown",
    "D6065": "an implant-supported crown",
    "D6240": "a bridge tooth (porcelain-fused-to-metal)",
    "D6750": "a bridge crown (porcelain-fused-to-metal)",
    # oral surgery
    "D7140": "a tooth extraction",
    "D7210": "a surgical tooth extraction",
    "D7220": "removal of an impacted tooth (soft tissue)",
    "D7230": "removal of a partially bony impacted tooth",
    "D7240": "removal of a fully bony impacted tooth",
    "D7250": "removal of a remaining root tip",
    "D7310": "smoothing of the jaw bone (four or more teeth)",
    "D7953": "a bone graft at an extraction site",
    # orthodontics
    "D8070": "comprehensive orthodontic treatment (braces), adolescent",
    "D8080": "comprehensive orthodontic treatment (braces), adolescent",
    "D8090": "comprehensive orthodontic treatment (braces), adult",
    "D8670": "a periodic orthodontic visit",
    "D8680": "orthodontic retainers",
    # adjunctive
    "D9110": "emergency treatment for dental pain",
    "D9215": "local anesthesia",
    "D9222": "deep sedation, first 15 minutes",
    "D9230": "nitrous oxide (laughing gas)",
    "D9239": "IV sedation, first 15 minutes",
    "D9310": "a consultation",
    "D9430": "an office visit for observation",
    "D9440": "an after-hours office visit",
    "D9910": "a desensitizing treatment",
    "D9944": "a custom night guard (hard)",
    "D9945": "a custom night guard (soft)",
    "D9972": "in-office teeth whitening",
    "D9986": "a missed appointment fee",
    "D9987": "a cancelled appointment fee",
    "D9999": "an unspecified dental procedure",
}

CPT: dict[str, str] = {
    "99202": "a new-patient office visit (short)",
    "99203": "a new-patient office visit",
    "99204": "a new-patient office visit (extended)",
    "99205": "a new-patient office visit (complex)",
    "99211": "a brief office visit",
    "99212": "an office visit (short)",
    "99213": "an office visit",
    "99214": "an office visit (extended)",
    "99215": "an office visit (complex)",
    "99381": "a preventive checkup (infant)",
    "99385": "a preventive checkup (age 18 to 39)",
    "99386": "a preventive checkup (age 40 to 64)",
    "99387": "a preventive checkup (age 65 or older)",
    "99395": "a preventive checkup (age 18 to 39)",
    "99396": "a preventive checkup (age 40 to 64)",
    "99397": "a preventive checkup (age 65 or older)",
    "36415": "a blood draw",
    "80053": "a metabolic blood panel",
    "81002": "a urine test",
    "85025": "a complete blood count",
    "87880": "a rapid strep test",
    "90471": "a vaccine administration",
    "90686": "a flu shot",
    "93000": "an electrocardiogram (EKG)",
    "94010": "a breathing test (spirometry)",
    "96372": "an injection",
    "G0439": "an annual wellness visit",
}

_NORMAL = re.compile(r"^\s*([Dd]\d{4}|\d{5}|[Gg]\d{4})\s*$")


def normalize_code(code: str | None) -> str | None:
    if not code:
        return None
    m = _NORMAL.match(code)
    return m.group(1).upper() if m else code.strip().upper() or None


def is_dental(code: str) -> bool:
    return code.upper().startswith("D")


def describe(code: str | None, fallback: str = "") -> str:
    """The plain-language name of a procedure code; unknown codes say what family they are."""
    c = normalize_code(code)
    if c is None:
        return fallback.strip() or "a charge"
    if c in CDT:
        return CDT[c]
    if c in CPT:
        return CPT[c]
    kind = "dental" if is_dental(c) else "medical"
    return f"a {kind} procedure (code {c})"
