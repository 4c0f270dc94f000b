"""Label streams against a scripted stub: resumption from the last cursor,
LabelSolutions' hand-over to StreamLabels, unary retries, LabelDataset."""

import unittest

import grpc

import _support  # noqa: F401  (import path)

import shepherd_prm as sc
from shepherd_prm._proto import shepherd_pb2 as pb

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


class FakeError(grpc.RpcError):
    def __init__(self, code, details="injected"):
        super().__init__(details)
        self._code = code

    def code(self):
        return self._code

    def details(self):
        return str(self)


class FakeCall:
    """A response stream: yields msgs, then raises err (if any)."""

    def __init__(self, msgs, err=None):
        self._it = iter(msgs)
        self._err = err
        self.cancelled = False

    def __iter__(self):
        return self

    def __next__(self):
        if self.cancelled:
            raise FakeError(grpc.StatusCode.CANCELLED)
        try:
            return next(self._it)
        except StopIteration:
            if self._err is not None:
                raise self._err
            raise

    def cancel(self):
        self.cancelled = True


class FakeStub:
    """A job of `n` records with cursors "c1".."cn" behind a stub whose
    k-th stream call breaks after breaks[k] messages (None: never)."""

    def __init__(self, n, breaks=(), err=UNAVAILABLE, terminal=True, job_id="job-1"):
        self.records = [pb.LabelRecord(problem_id="p", solution_id="s%d" % i, prompt="q",
                                       completions=["a"], labels=[True])
                        for i in range(1, n + 1)]
        self.breaks = list(breaks)
        self.err = err
        self.terminal = terminal
        self.job_id = job_id
        self.calls = []  # (method, request, metadata)
        self.streams = []
        self.submits = 0
        self.submit_failures = 0

    def _job(self, state):
        return pb.Job(id=self.job_id, state=state, solutions_total=len(self.records))

    def _messages(self, after, resp, first_job):
        start = int(after[1:]) if after else 0
        msgs = []
        if first_job:
            msgs.append(resp(job=self._job(pb.JOB_STATE_QUEUED)))
        for i in range(start, len(self.records)):
            msgs.append(resp(record=self.records[i], cursor="c%d" % (i + 1)))
            if i == start:  # a progress snapshot carries the cursor of the record before
                msgs.append(resp(job=self._job(pb.JOB_STATE_RUNNING), cursor="c%d" % (i + 1)))
        if self.terminal:
            last = "c%d" % len(self.records) if self.records else after
            msgs.append(resp(job=self._job(pb.JOB_STATE_SUCCEEDED), cursor=last))
        return msgs

    def _stream(self, msgs):
        k = len(self.streams)
        cut = self.breaks[k] if k < len(self.breaks) else None
        if cut is None:
            call = FakeCall(msgs)
        else:
            call = FakeCall(msgs[:cut], FakeError(self.err))
        self.streams.append(call)
        return call

    def StreamLabels(self, req, metadata=None):
        self.calls.append(("StreamLabels", req, metadata))
        return self._stream(self._messages(req.cursor, pb.StreamLabelsResponse, False))

    def LabelSolutions(self, req, metadata=None):
        self.calls.append(("LabelSolutions", req, metadata))
        return self._stream(self._messages("", pb.LabelSolutionsResponse, True))

    def SubmitJob(self, req, metadata=None, timeout=None):
        self.calls.append(("SubmitJob", req, metadata))
        self.submits += 1
        if self.submits <= self.submit_failures:
            raise FakeError(UNAVAILABLE)
        return pb.SubmitJobResponse(job=self._job(pb.JOB_STATE_QUEUED))


def client_with(stub, token=None, retry_timeout=10.0):
    c = sc.connect("127.0.0.1:1", token=token, retry_timeout=retry_timeout)
    c.stub = stub
    return c


PROBLEMS = [{"id": "p", "question": "q", "answer": "1", "solutions": ["a", "b"]}]


class LabelStreamTest(unittest.TestCase):
    def ids(self, records):
        return [r.solution_id for r in records]

    def test_plain(self):
        stub = FakeStub(5)
        s = client_with(stub).labels("job-1")
        self.assertEqual(self.ids(s), ["s1", "s2", "s3", "s4", "s5"])
        self.assertEqual(s.cursor, "c5")
        self.assertEqual(s.job.state, pb.JOB_STATE_SUCCEEDED)
        self.assertEqual(s.reconnects, 0)
        self.assertEqual(len(stub.calls), 1)

    def test_resumes_exactly_once(self):
        # Breaks after 3 messages (s1, snapshot, s2), then right away, then
        # after one record: every record once, in order.
        stub = FakeStub(6, breaks=[3, 0, 1])
        s = client_with(stub).labels("job-1")
        self.assertEqual(self.ids(s), ["s1", "s2", "s3", "s4", "s5", "s6"])
        self.assertEqual(s.reconnects, 3)
        self.assertEqual([c[1].cursor for c in stub.calls], ["", "c2", "c2", "c3"])
        self.assertTrue(all(c[1].job_id == "job-1" for c in stub.calls))

    def test_starts_from_cursor(self):
        stub = FakeStub(4)
        s = client_with(stub).labels("job-1", cursor="c2")
        self.assertEqual(self.ids(s), ["s3", "s4"])
        self.assertEqual(stub.calls[0][1].cursor, "c2")

    def test_ending_without_terminal_snapshot_resumes(self):
        stub = FakeStub(2, terminal=False)
        s = client_with(stub, retry_timeout=0.3).labels("job-1")
        self.assertEqual([next(s).solution_id, next(s).solution_id], ["s1", "s2"])
        with self.assertRaisesRegex(RuntimeError, "keeps ending early"):
            next(s)
        self.assertGreaterEqual(len(stub.calls), 2)
        self.assertTrue(all(c[1].cursor == "c2" for c in stub.calls[1:]))

    def test_other_errors_propagate(self):
        stub = FakeStub(3, breaks=[2], err=grpc.StatusCode.NOT_FOUND)
        s = client_with(stub).labels("job-1")
        self.assertEqual(next(s).solution_id, "s1")
        with self.assertRaises(grpc.RpcError) as cm:
            next(s)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(len(stub.calls), 1)

    def test_gives_up_after_retry_timeout(self):
        stub = FakeStub(3, breaks=[0] * 1000)
        s = client_with(stub, retry_timeout=0.3).labels("job-1")
        with self.assertRaises(grpc.RpcError) as cm:
            list(s)
        self.assertEqual(cm.exception.code(), UNAVAILABLE)
        self.assertGreater(len(stub.calls), 1)

    def test_close_cancels(self):
        stub = FakeStub(5)
        with client_with(stub).labels("job-1") as s:
            next(s)
        self.assertTrue(stub.streams[0].cancelled)
        with self.assertRaises(StopIteration):
            next(s)

    def test_token_metadata(self):
        stub = FakeStub(1, breaks=[0])
        list(client_with(stub, token="secret").labels("job-1"))
        for _, _, md in stub.calls:
            self.assertEqual(md, (("authorization", "Bearer secret"),))
        stub = FakeStub(1)
        list(client_with(stub).labels("job-1"))
        self.assertEqual(stub.calls[0][2], ())


class LabelSolutionsTest(unittest.TestCase):
    def test_hands_over_to_stream_labels(self):
        stub = FakeStub(4, breaks=[3])  # job, s1, snapshot | break
        s = client_with(stub).label(PROBLEMS, "sim", request_id="req-9", n=2)
        self.assertEqual([r.solution_id for r in s], ["s1", "s2", "s3", "s4"])
        self.assertEqual(s.job_id, "job-1")
        self.assertEqual([c[0] for c in stub.calls], ["LabelSolutions", "StreamLabels"])
        req = stub.calls[0][1]
        self.assertIsInstance(req, pb.LabelSolutionsRequest)
        self.assertEqual((req.request_id, req.model, req.spec.n), ("req-9", "sim", 2))
        self.assertEqual(stub.calls[1][1], pb.StreamLabelsRequest(job_id="job-1", cursor="c1"))

    def test_retries_submission_before_job_known(self):
        stub = FakeStub(2, breaks=[0])
        s = client_with(stub).label(PROBLEMS, "sim")
        self.assertEqual([r.solution_id for r in s], ["s1", "s2"])
        self.assertEqual([c[0] for c in stub.calls], ["LabelSolutions", "LabelSolutions"])
        # The retry is the same request: the server finds the job it created.
        self.assertEqual(stub.calls[0][1], stub.calls[1][1])


class SubmitTest(unittest.TestCase):
    def test_retries_with_same_request_id(self):
        stub = FakeStub(1)
        stub.submit_failures = 2
        job = client_with(stub).submit(PROBLEMS, "sim", strategy="binary")
        self.assertEqual(job.id, "job-1")
        reqs = [c[1] for c in stub.calls]
        self.assertEqual(len(reqs), 3)
        self.assertEqual(len({r.request_id for r in reqs}), 1)
        self.assertEqual(reqs[0].spec.strategy, pb.STRATEGY_BINARY)


class LabelDatasetTest(unittest.TestCase):
    def test_rows(self):
        stub = FakeStub(3, breaks=[2])
        ds = sc.LabelDataset(client_with(stub), "job-1", soft=True)
        rows = list(ds)
        self.assertEqual(len(rows), 3)
        self.assertEqual(set(rows[0]), {"prompt", "completions", "labels", "soft_labels"})
        # Iterable again, from the start.
        self.assertEqual(list(ds), rows)
        recs = list(sc.LabelDataset(client_with(FakeStub(3)), "job-1", records=True))
        self.assertEqual([r.solution_id for r in recs], ["s1", "s2", "s3"])

    def test_torch_base(self):
        from shepherd_prm import dataset

        if dataset.HAVE_TORCH:
            import torch.utils.data

            self.assertTrue(issubclass(sc.LabelDataset, torch.utils.data.IterableDataset))
        else:
            self.assertEqual(sc.LabelDataset.__mro__[1:], (object,))


if __name__ == "__main__":
    unittest.main()
