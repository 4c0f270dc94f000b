"""trl_rows: label records as TRL stepwise-supervision rows."""

import types
import unittest

import _support  # noqa: F401  (import path)

import shepherd_prm as sc
from shepherd_prm._proto import shepherd_pb2 as pb


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

    def test_soft_hard_label_where_unmeasured(self):
        # As `shepherd export --soft`: an inferred label (null) becomes the
        # hard label as 1.0 / 0.0, so every soft label is a float.
        r = record(completions=["a", "b", "c", "d"], labels=[True, True, False, False],
                   soft=[0.25, None, None, 0.5])
        [row] = sc.trl_rows([r], soft=True)
        self.assertEqual(set(row), {"prompt", "completions", "labels", "soft_labels"})
        self.assertEqual(row["soft_labels"], [0.25, 1.0, 0.0, 0.5])
        self.assertTrue(all(type(x) is float for x in row["soft_labels"]))

    def test_soft_one_entry_per_step(self):
        [row] = sc.trl_rows([record()], soft=True)  # no soft labels at all
        self.assertEqual(row["soft_labels"], [1.0, 1.0])

    def test_failed_steps_left_out(self):
        bad = record(failed_steps=[1])
        good = record(soft=[0.5, 1.0])
        rows = list(sc.trl_rows([bad, good], soft=True))
        self.assertEqual([r["soft_labels"] for r in rows], [[0.5, 1.0]])
        with self.assertRaisesRegex(sc.FailedStepsError, r"record p/p-0: steps \[1\] failed"):
            sc.trl_row(bad)

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
            "soft_labels": [0.75, 0.0]})
        self.assertEqual(sc.trl_row(line), {
            "prompt": "Q", "completions": ["s1", "s2"], "labels": [True, False]})

    def test_null_label_is_a_failed_step(self):
        # JSONL records write null at a failed step; such a line is a
        # failed record even without failed_steps, never a false label.
        line = {"prompt": "Q", "completions": ["a", "b"], "labels": [True, None],
                "soft_labels": [1.0, None]}
        with self.assertRaises(sc.FailedStepsError):
            sc.trl_row(line)
        self.assertEqual(list(sc.trl_rows([line])), [])

    def test_rejects_other_types(self):
        with self.assertRaises(TypeError):
            list(sc.trl_rows(["not a record"]))


if __name__ == "__main__":
    unittest.main()
