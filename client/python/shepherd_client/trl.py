"""Label records as rows of TRL's stepwise-supervision data set."""

from collections.abc import Mapping

from shepherd.v1 import shepherd_pb2 as pb

__all__ = ["trl_row", "trl_rows"]


def _soft(value):
    # A SoftLabel message, a JSON number or null (JSONL records).
    if isinstance(value, pb.SoftLabel):
        return value.value if value.HasField("value") else None
    return None if value is None else float(value)


def trl_row(record, soft=False):
    """One TRL row {"prompt", "completions", "labels"} of a record.

    record is a LabelRecord (or a dict of one JSONL output line). With
    soft=True the row also has "soft_labels": one float per step, None
    where the record has no soft label (inferred by the strategy, or a
    failed step).
    """
    if isinstance(record, Mapping):
        prompt = record.get("prompt", "")
        completions = list(record.get("completions") or [])
        labels = [bool(x) for x in record.get("labels") or []]
        soft_values = record.get("soft_labels") or []
    elif isinstance(record, pb.LabelRecord):
        prompt = record.prompt
        completions = list(record.completions)
        labels = list(record.labels)
        soft_values = record.soft_labels
    else:
        raise TypeError("want a LabelRecord or a dict, got %s" % type(record).__name__)
    row = {"prompt": prompt, "completions": completions, "labels": labels}
    if soft:
        values = [_soft(v) for v in soft_values]
        # One entry per step, whatever the record carries.
        values += [None] * (len(completions) - len(values))
        row["soft_labels"] = values[: len(completions)]
    return row


def trl_rows(records, soft=False):
    """Yields a TRL row (see trl_row) for every record of an iterable.

    Works lazily on a label stream: `for row in trl_rows(client.labels(job_id))`.
    Wrap it in list() for a list, e.g. for datasets.Dataset.from_list.
    """
    for record in records:
        yield trl_row(record, soft=soft)
