"""Label records as rows of TRL's stepwise-supervision data set.

The rows are those of `shepherd export --format trl` (with `soft=True`,
those of `shepherd export --format trl --soft`); the rules are stated once,
in labeler/dataset/formats.go, and repeated here:

- soft_labels holds one float per step: the share of rollouts that reached
  the gold answer where it was measured, and the hard label as 1.0 or 0.0
  where the strategy inferred it instead (null in the record);
- a record with failed steps has no label for them: trl_row raises
  FailedStepsError and trl_rows leaves the record out (export counts and
  skips it the same way).
"""

from collections.abc import Mapping

from ._proto import shepherd_pb2 as pb

__all__ = ["FailedStepsError", "trl_row", "trl_rows"]


class FailedStepsError(ValueError):
    """A record with failed steps, which no trainer format can carry."""


def _soft(value):
    # A SoftLabel message, a JSON number or null (JSONL records).
    if isinstance(value, pb.SoftLabel):
        return value.value if value.HasField("value") else None
    return None if value is None else float(value)


def trl_row(record, soft=False):
    """One TRL row {"prompt", "completions", "labels"} of a record.

    record is a LabelRecord (or a dict of one JSONL output line). With
    soft=True the row also has "soft_labels": one float per step, measured
    where the record has one and the hard label (1.0 / 0.0) elsewhere, as
    `shepherd export --soft` writes. Raises FailedStepsError for a record
    with failed steps.
    """
    if isinstance(record, Mapping):
        name = "%s/%s" % (record.get("problem_id", ""), record.get("solution_id", ""))
        prompt = record.get("prompt", "")
        completions = list(record.get("completions") or [])
        raw = record.get("labels") or []
        labels = [bool(x) for x in raw]
        soft_values = record.get("soft_labels") or []
        # A null label is a failed step too (JSONL writes null there).
        failed = list(record.get("failed_steps") or []) or [i for i, x in enumerate(raw) if x is None]
    elif isinstance(record, pb.LabelRecord):
        name = "%s/%s" % (record.problem_id, record.solution_id)
        prompt = record.prompt
        completions = list(record.completions)
        labels = list(record.labels)
        soft_values = record.soft_labels
        failed = list(record.failed_steps)
    else:
        raise TypeError("want a LabelRecord or a dict, got %s" % type(record).__name__)
    if failed:
        raise FailedStepsError("record %s: steps %s failed and have no label" % (name, failed))
    if len(labels) != len(completions):
        raise ValueError("record %s: %d labels for %d completions" % (name, len(labels), len(completions)))
    row = {"prompt": prompt, "completions": completions, "labels": labels}
    if soft:
        values = [_soft(v) for v in soft_values][: len(labels)]
        values += [None] * (len(labels) - len(values))
        row["soft_labels"] = [float(h) if v is None else v for v, h in zip(values, labels)]
    return row


def trl_rows(records, soft=False):
    """Yields a TRL row (see trl_row) for every record of an iterable,
    leaving out records with failed steps.

    Works lazily on a label stream: `for row in trl_rows(client.labels(job_id))`.
    Wrap it in list() for a list, e.g. for datasets.Dataset.from_list.
    """
    for record in records:
        try:
            yield trl_row(record, soft=soft)
        except FailedStepsError:
            continue
