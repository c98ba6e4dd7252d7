"""Every kind of difference drift reports, in the order a report lists them: what it says (``summary``), what a
user can do about it without editing edenfake (``remedy``: a catalog overlay key, ``--allow-extra-field``, or
a report to make), and what was compared and why it can differ (``explanation``). ``edenfake drift --explain
KIND`` prints one; the documentation's reference page is rendered from this mapping."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "REPORT_IT", "DriftKind"]

#: what a remedy says when only a release of the fake's contract can settle it
REPORT_IT = (
    "the fake's contract needs a release: report it to edenfake with the kind, the exchange's line of "
    "exchanges.jsonl (request and recorded answer; remove anything private) and the detail drift printed"
)


@dataclass(frozen=True)
class DriftKind:
    """One kind of difference: its name, its one-line summary, what to do, and a paragraph on what it means."""

    name: str
    summary: str
    remedy: str
    explanation: str


def _kinds(*kinds: DriftKind) -> dict[str, DriftKind]:
    return {k.name: k for k in kinds}


KINDS: dict[str, DriftKind] = _kinds(
    DriftKind(
        "status",
        "the fake answered another status",
        "when the real service refuses a value the fake takes, or takes one it refuses (n, size, quality, "
        "output_format, response_format): the model's catalog overlay keys n_max, sizes, aspect_ratios, "
        "qualities, output_formats, response_formats (--suggest-catalog writes them); both refusing with 502 "
        "against 400: the catalog's refusal_status; any other status (401, 402, 429, 5xx): re-record, since "
        "the recording caught the service or the account in a passing state",
        "Each recorded request is sent to a fresh fake and the two statuses compared; when they differ, "
        "nothing else of that exchange is compared. The usual cause is a provider rule: the real service "
        "refused n=4 for a model whose catalog entry says n_max 10, or took a size the catalog lacks. A "
        "refusal both sides make, answered 502 by the real service and 400 by the fake, is the catalog's "
        "refusal_status. A status the fake has no rule for (a 429, a 503) is the real service having a bad "
        "moment while it was recorded.",
    ),
    DriftKind(
        "error_code",
        "the same error status with another error_code",
        REPORT_IT,
        "For an error answered with the same status by both, the error_code of the two bodies is compared "
        "(e.g. recorded 400 PROVIDER_ERROR, fake 400 VALIDATION_ERROR). Clients branch on the code, and which "
        "code an error carries is the fake's contract (contracts/errors.schema.json), not the catalog's.",
    ),
    DriftKind(
        "field_only_in_recording",
        "a top-level field the real service sends and the fake does not",
        "for output_format, size, quality or background: the model's catalog key report_fields "
        "(--suggest-catalog writes it); for any other field your clients do not read: "
        "--allow-extra-field NAME, or the catalog's answer_extra_fields; if your clients read it: " + REPORT_IT,
        "The top-level fields of the two JSON answers are compared by name. The real service may add a field "
        "(a request_id, a created_at) that the fake's contract does not know yet. Four fields are the "
        "model's own (the catalog's report_fields: output_format, size, quality, background); any other is "
        "a field of the real API. A field no client of yours reads can be allowed, so that drift stops "
        "reporting it; one your clients read belongs in the fake's contract.",
    ),
    DriftKind(
        "field_only_in_fake",
        "a top-level field the fake sends and the real service does not",
        "for output_format, size, quality or background: the model's catalog key report_fields "
        "(--suggest-catalog writes it); any other field: " + REPORT_IT,
        "The top-level fields of the two JSON answers are compared by name: the fake sent a field the real "
        "service did not (e.g. quality on a model whose provider does not report it). A client written "
        "against the fake could read a field the real service never sends.",
    ),
    DriftKind(
        "field_type",
        "a top-level field of another JSON type",
        REPORT_IT,
        "Each top-level field both answers carry is compared by JSON type (null, boolean, number, string, "
        "array, object; an integer and a fraction are both number). A field of another type (created as a "
        "string, cost as null) breaks a client's parsing; the type is stated by the fake's contract.",
    ),
    DriftKind(
        "data_count",
        "another number of images",
        REPORT_IT,
        "The number of items in data is compared. The real service returned another number of images for "
        "the same n: a provider rule (a model that returns one image whatever n says) the catalog has no key "
        "for.",
    ),
    DriftKind(
        "data_keys",
        "an image carrying other keys among url, b64_json, revised_prompt",
        "the model's catalog overlay keys response_formats, default_response_format, "
        "honours_response_format and revised_prompt (--suggest-catalog writes them)",
        "Which of url, b64_json and revised_prompt each image carries is compared. A model may answer with a "
        "URL where the fake sends base64, ignore response_format, or rewrite the prompt (dall-e-3 sends "
        "revised_prompt): each is the model's entry in the catalog.",
    ),
    DriftKind(
        "image_format",
        "an image in another format (or a recorded image that is not one)",
        "when no output_format was asked: the model's catalog overlay keys default_output_format and "
        "output_formats (--suggest-catalog writes them); for a recorded image that is not one, read the "
        "recorded answer: the service sent something other than an image",
        "Each image's format is read from its bytes (PNG, JPEG, WebP) on both sides. The model's default "
        "output format may differ from the catalog's (a provider that answers JPEG when no output_format is "
        "asked). A recorded image no reader takes, or a b64_json that is not base64, is the service's own "
        "answer and is shown as it is.",
    ),
    DriftKind(
        "image_size",
        "an image of another pixel size",
        "for an aspect ratio or no size asked: the model's catalog overlay keys aspect_ratios or default_size "
        "(--suggest-catalog writes them, and prices the new size); for an explicit WxH the provider resized: "
        + REPORT_IT,
        "Each image's width and height are read from its bytes on both sides. A model maps an aspect ratio "
        "(16:9) or no size at all to a pixel size the catalog may not know (1344x768 rather than 1792x1024).",
    ),
    DriftKind(
        "cost",
        "another cost",
        "the model's catalog overlay key prices for generations, edit_prices for edits (per quality, then "
        "per pixel size, the recorded cost divided by n; --suggest-catalog writes them)",
        "The answers' cost is compared as a number, within a millionth. Prices change: the recorded cost "
        "divided by the number of images is the unit price the catalog should have for that quality and "
        "size. Edits may cost another amount than generations of the same size; those are the model's "
        "edit_prices, which fall back to its prices. A recorded cost no double holds (1e400) is shown, never "
        "suggested.",
    ),
    DriftKind(
        "usage_keys",
        "other keys in usage",
        REPORT_IT,
        "The keys of the two answers' usage objects are compared (not their counts, which depend on the "
        "tokenizer). A new or missing key is a change of the real usage shape, which is the fake's contract "
        "(contracts/image-response.schema.json, Usage).",
    ),
    DriftKind(
        "request_contract",
        "a request the real service accepted and the contract refuses",
        REPORT_IT + " (the contract is too strict: it refuses a request the service takes)",
        "Every request the real service answered with 2xx is checked against the fake's request contract. "
        "A violation means the contract is stricter than the service: a client written against the fake "
        "cannot send what the service accepts (e.g. an n of 12, a size the schema's pattern refuses).",
    ),
    DriftKind(
        "answer_contract",
        "a recorded answer the contract refuses: the contract is wrong",
        REPORT_IT + " (the recorded answer is the service's own: the contract, not the service, is wrong)",
        "Every recorded answer is checked against the fake's contract for its route and status: an "
        "undocumented status, a media type or a body the schema refuses. The fake's own answers are checked "
        "against the same contract, so the fake cannot send what the service sent until the contract says "
        "it.",
    ),
)
