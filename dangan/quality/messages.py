"""Reviewer-facing text per reason code (codes are stable; the text may be improved freely)."""

from __future__ import annotations

MESSAGES = {
    "FORM_UNKNOWN": "form type not recognized (表单类型无法识别)",
    "FIELD_CONFLICT": "one field read with different values in one document: confirm the right one (字段值冲突)",
    "ID_INVALID": "resident ID invalid",
    "ID_FORMAT": "resident ID malformed (公民身份号码格式错误)",
    "ID_CHECK_DIGIT": "resident ID check character wrong (校验码错误, GB 11643 MOD 11-2)",
    "ID_BIRTH_DATE": "resident ID embeds an impossible birth date",
    "ID_LEGACY_15": "15-digit legacy ID: confirm and record the 18-character ID (15位旧身份证号)",
    "ID_REGION": "resident ID region prefix not a plausible GB/T 2260 code",
    "ID_BIRTH_MISMATCH": "birth date differs from the one in the resident ID",
    "ID_SEX_MISMATCH": "sex differs from the resident ID's order code",
    "SEX_INVALID": "sex is neither 男 nor 女",
    "IDENTITY_MISMATCH": "ID or name differs from the person's other documents or registration",
    "PERSON_CODE_MISMATCH": "personal number (个人编号) differs between the person's documents",
    "EMPLOYER_CODE_CHECK": "employer credit code check character wrong (统一社会信用代码, GB 32100)",
    "DATE_INVALID": "date unreadable or not a real date",
    "DATE_ORDER": "dates out of order (birth < insured since <= document date)",
    "AMOUNT_FORMAT": "amount not a plain decimal (possibly misread separators, e.g. 15.380.00)",
    "AMOUNT_NEGATIVE": "negative amount",
    "AMOUNT_SUM_MISMATCH": "employer + personal differs from total",
    "BASE_OUT_OF_RANGE": "contribution base outside the configured bounds",
    "TOTAL_MISMATCH": "stated period total differs from the sum of the table",
    "MONTHS_INCONSISTENT": "months paid inconsistent with the contribution table or insured period",
    "INTEGER_FORMAT": "month count is not a whole number",
    "CONTRIBUTION_GAP": "contribution months not continuous (断缴)",
    "PHONE_FORMAT": "phone number malformed",
    "FIELD_MISSING": "required field not found",
    "LOW_CONFIDENCE": "OCR confidence below threshold",
    "PERIOD_DUPLICATE": "contribution month listed twice",
    "FLAG_UNKNOWN": "contribution flag not in the known vocabulary (e.g. 补激 for 补缴)",
}


def message_for(code: str) -> str:
    """Reviewer text for ``code`` (the code itself when no text is known)."""
    return MESSAGES.get(code, code)
