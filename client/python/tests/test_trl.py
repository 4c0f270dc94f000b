"""trl_rows: label records as TRL stepwise-supervision rows."""

import types
import unittest

import _support  # noqa: F401  (import path)

import shepherd_client as sc
from shepherd.v1 import shepherd_pb2 as pb


def record(**kw):
    r = pb.LabelRecord(problem_id="p", solution_id="p-0", prompt="What is 1+1?",
                       completions=["1 + 1 = 2.", "The answer is 2."],
                       labels=[True, True], first_error_step=-1, outcome_correct=True)
    for k, v in kw.items():
        if k == "soft":
            r.soft_labels.extend(pb.SoftLabel() if x is None else pb.SoftLabel(value=x) for x in v)
        else:
            field = getattr(r, k)
            if hasattr(field, "extend"):
                del field[:]
                field.extend(v)
            else:
                setattr(r, k, v)
    return r


class TrlRowsTest(unittest.TestCase):
    def test_hard(self):
        rows = sc.trl_rows([record(soft=[0.5, 1.0]),
                            record(completions=["a", "b", "c"], labels=[True, False, False])])
        self.assertIsInstance(rows, types.GeneratorType)
        self.assertEqual(list(rows), [
            {"prompt": "What is 1+1?", "completions": ["1 + 1 = 2.", "The answer is 2."],
             "labels": [True, True]},
            {"prompt": "What is 1+1?", "completions": ["a", "b", "c"],
             "labels": [True, False, False]},
        ])

    def test_soft_null_where_unmeasured(self):
        r = record(completions=["a", "b", "c"], labels=[True, False, False], soft=[0.25, None, 0.0])
        [row] = sc.trl_rows([r], soft=True)
        self.assertEqual(set(row), {"prompt", "completions", "labels", "soft_labels"})
        self.assertEqual(row["soft_labels"], [0.25, None, 0.0])
        # An explicit 0.0 stays a number: it is a measured label.
        self.assertIsInstance(row["soft_labels"][2], float)

    def test_soft_one_entry_per_step(self):
        [row] = sc.trl_rows([record()], soft=True)  # no soft labels at all
        self.assertEqual(row["soft_labels"], [None, None])

    def test_plain_types(self):
        [row] = sc.trl_rows([record(soft=[0.5, 1.0])], soft=True)
        self.assertIs(type(row["completions"]), list)
        self.assertIs(type(row["labels"]), list)
        self.assertTrue(all(type(x) is bool for x in row["labels"]))
        self.assertTrue(all(type(x) is str for x in row["completions"]))

    def test_jsonl_dicts(self):
        line = {"problem_id": "sim-0023", "solution_id": "sim-0023-4", "prompt": "Q",
                "completions": ["s1", "s2"], "labels": [True, False],
                "soft_labels": [0.75, None], "first_error_step": 1}
        self.assertEqual(sc.trl_row(line, soft=True), {
            "prompt": "Q", "completions": ["s1", "s2"], "labels": [True, False],
            "soft_labels": [0.75, None]})
        self.assertEqual(sc.trl_row(line), {
            "prompt": "Q", "completions": ["s1", "s2"], "labels": [True, False]})

    def test_failed_steps_are_null_and_left_out(self):
        # A failed step has no label: None, never False, in a proto record
        # (which carries bools) and in a JSONL line (which carries null).
        r = record(completions=["a", "b", "c"], labels=[True, False, True],
                   soft=[1.0, 0.0, 1.0], failed_steps=[1])
        line = {"prompt": "Q", "completions": ["a", "b", "c"], "labels": [True, None, True],
                "soft_labels": [1.0, None, 1.0], "failed_steps": [1]}
        for rec in (r, line):
            row = sc.trl_row(rec, soft=True)
            self.assertEqual(row["labels"], [True, None, True])
            self.assertEqual(row["soft_labels"], [1.0, None, 1.0])
            # Trainer rows leave such solutions out, unless asked not to.
            self.assertEqual(list(sc.trl_rows([rec])), [])
            self.assertEqual(len(list(sc.trl_rows([rec], skip_failed=False))), 1)
        # A null label alone marks a failed step too.
        self.assertEqual(list(sc.trl_rows([{"prompt": "Q", "completions": ["a"], "labels": [None]}])), [])

    def test_rejects_other_types(self):
        with self.assertRaises(TypeError):
            list(sc.trl_rows(["not a record"]))


if __name__ == "__main__":
    unittest.main()
