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
    failed step). A failed step (in "failed_steps") has the label None,
    never False: its rollouts could not be obtained, so nothing is known
    of it. trl_rows leaves such records out.
    """
    if isinstance(record, Mapping):
        prompt = record.get("prompt", "")
        completions = list(record.get("completions") or [])
        labels = [None if x is None else bool(x) for x in record.get("labels") or []]
        soft_values = record.get("soft_labels") or []
        failed = record.get("failed_steps") or []
    elif isinstance(record, pb.LabelRecord):
        prompt = record.prompt
        completions = list(record.completions)
        labels = list(record.labels)
        soft_values = record.soft_labels
        failed = list(record.failed_steps)
    else:
        raise TypeError("want a LabelRecord or a dict, got %s" % type(record).__name__)
    for k in failed:
        if 0 <= k < len(labels):
            labels[k] = None
    row = {"prompt": prompt, "completions": completions, "labels": labels}
    if soft:
        values = [_soft(v) for v in soft_values]
        for k in failed:
            if 0 <= k < len(values):
                values[k] = None
        # One entry per step, whatever the record carries.
        values += [None] * (len(completions) - len(values))
        row["soft_labels"] = values[: len(completions)]
    return row


def _has_failed_steps(record):
    if isinstance(record, Mapping):
        return bool(record.get("failed_steps")) or None in (record.get("labels") or [])
    if isinstance(record, pb.LabelRecord):
        return len(record.failed_steps) > 0
    return False  # trl_row says what is wrong with it


def trl_rows(records, soft=False, skip_failed=True):
    """Yields a TRL row (see trl_row) for every record of an iterable.

    Records with failed steps are left out (as `shepherd export` does), so
    a trainer never reads a missing label as a wrong step; skip_failed=False
    keeps them, with None labels at the failed steps.

    Works lazily on a label stream: `for row in trl_rows(client.labels(job_id))`.
    Wrap it in list() for a list, e.g. for datasets.Dataset.from_list.
    """
    for record in records:
        if skip_failed and _has_failed_steps(record):
            continue
        yield trl_row(record, soft=soft)
