"""Building API requests from the JSONL input shape of `shepherd label`."""

import uuid
from collections.abc import Mapping

from ._proto import shepherd_pb2 as pb

__all__ = ["build_problems", "build_spec", "build_submit", "new_request_id"]

# Every strategy of the API by its name in `shepherd label --strategy`
# (STRATEGY_X_Y is "x-y"), so a new enum value needs no entry here.
_STRATEGIES = {
    name.removeprefix("STRATEGY_").lower().replace("_", "-"): value
    for name, value in pb.Strategy.items()
    if value != pb.STRATEGY_UNSPECIFIED
}

_SPLITS = {
    "auto": pb.SPLIT_MODE_AUTO,
    "line": pb.SPLIT_MODE_LINE,
    "paragraph": pb.SPLIT_MODE_PARAGRAPH,
    "step": pb.SPLIT_MODE_STEP,
    "tag": pb.SPLIT_MODE_TAG,
}

# JobSpec fields accepted as keyword arguments, with their conversion.
_SPEC_FIELDS = {
    "n": int,
    "seed": int,
    "temperature": float,
    "top_p": float,
    "max_tokens": int,
    "split_tag": str,
    "max_steps": int,
    "reuse": bool,
}


def new_request_id():
    """A fresh idempotency key for SubmitJob / LabelSolutions."""
    return str(uuid.uuid4())


def _enum(value, names, enum_type, field):
    if isinstance(value, str):
        key = value.strip().lower()
        if key not in names:
            raise ValueError(
                "%s: unknown value %r (want one of %s)" % (field, value, ", ".join(sorted(names)))
            )
        return names[key]
    if isinstance(value, int) and not isinstance(value, bool):
        enum_type.Name(value)  # raises ValueError on an unknown number
        return value
    raise TypeError("%s: want a name or an enum number, got %r" % (field, value))


def build_spec(spec=None, **fields):
    """Returns a JobSpec from keyword arguments.

    Accepted: strategy ("exhaustive" | "binary" | enum number), n, seed,
    temperature, top_p, max_tokens, stop (list of str), split ("auto" |
    "line" | "paragraph" | "step" | "tag" | enum number), split_tag,
    max_steps, reuse. Fields left out (or None) take the server's defaults.
    `spec`, when given, is a JobSpec the keyword arguments are applied to.
    """
    out = pb.JobSpec()
    if spec is not None:
        if not isinstance(spec, pb.JobSpec):
            raise TypeError("spec: want a shepherd.v1.JobSpec, got %s" % type(spec).__name__)
        out.CopyFrom(spec)
    for name, value in fields.items():
        if value is None:
            continue
        if name == "strategy":
            out.strategy = _enum(value, _STRATEGIES, pb.Strategy, name)
        elif name == "split":
            out.split = _enum(value, _SPLITS, pb.SplitMode, name)
        elif name == "stop":
            if isinstance(value, str):
                value = [value]
            del out.stop[:]
            out.stop.extend(str(s) for s in value)
        elif name in _SPEC_FIELDS:
            setattr(out, name, _SPEC_FIELDS[name](value))
        else:
            raise TypeError("unknown job spec field %r (want one of %s)" % (
                name, ", ".join(sorted(list(_SPEC_FIELDS) + ["split", "stop", "strategy"]))))
    return out


def _solution(value, where):
    if isinstance(value, pb.Solution):
        return value
    if isinstance(value, str):
        return pb.Solution(text=value)
    if not isinstance(value, Mapping):
        raise TypeError("%s: want a string or an object with text or steps, got %s" % (
            where, type(value).__name__))
    unknown = set(value) - {"id", "text", "steps"}
    if unknown:
        raise ValueError("%s: unknown field(s) %s" % (where, ", ".join(sorted(unknown))))
    has_text = value.get("text") is not None
    has_steps = value.get("steps") is not None
    if has_text == has_steps:
        raise ValueError("%s: exactly one of text and steps must be given" % where)
    sol = pb.Solution(id=str(value.get("id") or ""))
    if has_text:
        if not isinstance(value["text"], str):
            raise TypeError("%s.text: want a string" % where)
        sol.text = value["text"]
    else:
        steps = value["steps"]
        if isinstance(steps, str) or not all(isinstance(s, str) for s in steps):
            raise TypeError("%s.steps: want a list of strings" % where)
        sol.steps.steps.extend(steps)
    return sol


def _problem(value, where):
    if isinstance(value, pb.Problem):
        return value
    if not isinstance(value, Mapping):
        raise TypeError("%s: want an object {id, question, answer, solutions}, got %s" % (
            where, type(value).__name__))
    unknown = set(value) - {"id", "question", "answer", "solutions"}
    if unknown:
        raise ValueError("%s: unknown field(s) %s" % (where, ", ".join(sorted(unknown))))
    solutions = value.get("solutions") or []
    if isinstance(solutions, (str, Mapping)):
        raise TypeError("%s.solutions: want a list" % where)
    answer = value.get("answer", "")
    return pb.Problem(
        id=str(value.get("id") or ""),
        question=str(value.get("question") or ""),
        answer="" if answer is None else str(answer),
        solutions=[_solution(s, "%s.solutions[%d]" % (where, i)) for i, s in enumerate(solutions)],
    )


def build_problems(problems):
    """Returns Problem messages from dicts in the JSONL input shape.

    A problem is {"id", "question", "answer", "solutions"}; a solution is a
    string, {"id", "text"} or {"id", "steps": [str, ...]}. Problem and
    Solution messages are passed through. Missing ids are left empty, so the
    server assigns its defaults ("p<index>", "<problem id>-<index>").
    """
    if isinstance(problems, (Mapping, pb.Problem)):
        problems = [problems]
    return [_problem(p, "problems[%d]" % i) for i, p in enumerate(problems)]


def build_submit(problems, model, request_id=None, spec=None, request_type=None, **fields):
    """Returns a SubmitJobRequest (or request_type, e.g. LabelSolutionsRequest)."""
    if not model:
        raise ValueError("model: required")
    cls = request_type or pb.SubmitJobRequest
    return cls(
        request_id=request_id or new_request_id(),
        model=model,
        spec=build_spec(spec, **fields),
        problems=build_problems(problems),
    )
