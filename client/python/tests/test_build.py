"""Request building from the JSONL input shape."""

import unittest

import _support  # noqa: F401  (import path)

import shepherd_prm as sc
from shepherd_prm._proto import shepherd_pb2 as pb


class BuildProblemsTest(unittest.TestCase):
    def test_solution_shapes(self):
        [p] = sc.build_problems([{
            "id": "gsm-17",
            "question": "Janet has 3 apples ...",
            "answer": "18",
            "solutions": [
                "Step 1: a\nStep 2: b",
                {"id": "t", "text": "one\ntwo"},
                {"id": "b", "steps": ["x", "y"]},
                {"steps": ["z"]},
            ],
        }])
        self.assertEqual(p.id, "gsm-17")
        self.assertEqual(p.question, "Janet has 3 apples ...")
        self.assertEqual(p.answer, "18")
        s = p.solutions
        self.assertEqual(len(s), 4)
        self.assertEqual(s[0].WhichOneof("body"), "text")
        self.assertEqual((s[0].id, s[0].text), ("", "Step 1: a\nStep 2: b"))
        self.assertEqual((s[1].id, s[1].text), ("t", "one\ntwo"))
        self.assertEqual(s[2].WhichOneof("body"), "steps")
        self.assertEqual((s[2].id, list(s[2].steps.steps)), ("b", ["x", "y"]))
        self.assertEqual((s[3].id, list(s[3].steps.steps)), ("", ["z"]))

    def test_defaults_left_to_server(self):
        [p] = sc.build_problems({"question": "q", "answer": 7, "solutions": ["a"]})
        self.assertEqual(p.id, "")
        self.assertEqual(p.answer, "7")
        self.assertEqual(p.solutions[0].id, "")

    def test_messages_pass_through(self):
        msg = pb.Problem(id="x", question="q", answer="1", solutions=[pb.Solution(text="a")])
        self.assertEqual(sc.build_problems([msg]), [msg])

    def test_errors_name_the_field(self):
        cases = [
            ([{"question": "q", "answer": "1", "solutions": [{"id": "a"}]}],
             ValueError, r"problems\[0\]\.solutions\[0\]: exactly one of text and steps"),
            ([{"question": "q", "answer": "1", "solutions": [{"text": "a", "steps": ["a"]}]}],
             ValueError, r"exactly one"),
            ([{"question": "q", "answer": "1", "solutions": ["a"]},
              {"question": "q", "answer": "1", "solutions": [3]}],
             TypeError, r"problems\[1\]\.solutions\[0\]"),
            ([{"question": "q", "answer": "1", "solutions": [{"steps": "a"}]}],
             TypeError, r"steps: want a list of strings"),
            ([{"question": "q", "answer": "1", "solutions": "a"}], TypeError, r"solutions: want a list"),
            ([{"question": "q", "gold": "1"}], ValueError, r"unknown field\(s\) gold"),
            (["q"], TypeError, r"problems\[0\]"),
        ]
        for problems, exc, msg in cases:
            with self.subTest(problems=problems):
                with self.assertRaisesRegex(exc, msg):
                    sc.build_problems(problems)


class BuildSpecTest(unittest.TestCase):
    def test_fields(self):
        s = sc.build_spec(strategy="binary", n=4, seed=0, temperature=0.0, top_p=0.9,
                          max_tokens=512, stop=["\n\n"], split="line", split_tag="<s>",
                          max_steps=64, reuse=False)
        self.assertEqual(s.strategy, pb.STRATEGY_BINARY)
        self.assertEqual((s.n, s.seed, s.max_tokens, s.max_steps), (4, 0, 512, 64))
        # Explicit zero/false of optional fields is kept, not taken as unset.
        self.assertTrue(s.HasField("temperature"))
        self.assertEqual(s.temperature, 0.0)
        self.assertAlmostEqual(s.top_p, 0.9)
        self.assertTrue(s.HasField("reuse"))
        self.assertFalse(s.reuse)
        self.assertEqual(list(s.stop), ["\n\n"])
        self.assertEqual(s.split, pb.SPLIT_MODE_LINE)
        self.assertEqual(s.split_tag, "<s>")

    def test_unset_means_default(self):
        s = sc.build_spec(temperature=None)
        self.assertEqual(s, pb.JobSpec())
        self.assertFalse(s.HasField("temperature"))
        self.assertFalse(s.HasField("reuse"))

    def test_enums(self):
        self.assertEqual(sc.build_spec(strategy="EXHAUSTIVE").strategy, pb.STRATEGY_EXHAUSTIVE)
        self.assertEqual(sc.build_spec(strategy=pb.STRATEGY_BINARY).strategy, pb.STRATEGY_BINARY)
        self.assertEqual(sc.build_spec(split="tag").split, pb.SPLIT_MODE_TAG)
        self.assertEqual(sc.build_spec(stop="END").stop, ["END"])
        with self.assertRaisesRegex(ValueError, "strategy: unknown value 'greedy'"):
            sc.build_spec(strategy="greedy")
        with self.assertRaises(ValueError):
            sc.build_spec(split=99)

    def test_unknown_field(self):
        with self.assertRaisesRegex(TypeError, "unknown job spec field 'temprature'"):
            sc.build_spec(temprature=0.5)


class BuildSubmitTest(unittest.TestCase):
    def test_request(self):
        problems = [{"id": "p", "question": "q", "answer": "1", "solutions": ["a"]}]
        r = sc.build_submit(problems, "sim", n=2)
        self.assertIsInstance(r, pb.SubmitJobRequest)
        self.assertEqual(r.model, "sim")
        self.assertEqual(r.spec.n, 2)
        self.assertEqual(len(r.problems), 1)
        self.assertTrue(1 <= len(r.request_id) <= 128 and r.request_id.isascii())
        self.assertNotEqual(r.request_id, sc.build_submit(problems, "sim").request_id)

        r2 = sc.build_submit(problems, "sim", request_id="req-1",
                             request_type=pb.LabelSolutionsRequest)
        self.assertIsInstance(r2, pb.LabelSolutionsRequest)
        self.assertEqual(r2.request_id, "req-1")
        # Same fields, same numbers: the wire forms agree.
        self.assertEqual(
            pb.SubmitJobRequest.FromString(r2.SerializeToString()),
            sc.build_submit(problems, "sim", request_id="req-1"))

    def test_model_required(self):
        with self.assertRaisesRegex(ValueError, "model"):
            sc.build_submit([{"question": "q", "answer": "1", "solutions": ["a"]}], "")


if __name__ == "__main__":
    unittest.main()
