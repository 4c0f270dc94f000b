"""The client over real gRPC connections to an in-process server, with the
connection cut midway by a proxy: streams resume from the last cursor and
deliver every record exactly once. Needs nothing but python3-grpcio."""

import os
import shutil
import subprocess
import tempfile
import threading
import unittest
from concurrent import futures

import grpc

from _support import Proxy

import shepherd_prm as sc
from shepherd_prm._proto import shepherd_pb2 as pb
from shepherd_prm._proto import shepherd_pb2_grpc as pb_grpc

N_RECORDS = 40
TOKEN = "t0ken"


class Servicer(pb_grpc.ShepherdServiceServicer):
    """One finished job of N_RECORDS records; cursors are "c<k>"."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (method, request)
        self.jobs = {}  # request_id -> job id
        self.records = [
            pb.LabelRecord(problem_id="p%d" % (i // 4), solution_id="s%d" % i,
                           prompt="Start with %d. Add 1, then add 2. What is the result?" % i,
                           completions=["%d + 1 = %d." % (i, i + 1), "%d + 2 = %d." % (i + 1, i + 3),
                                        "The answer is %d." % (i + 3)],
                           labels=[True, True, True],
                           soft_labels=[pb.SoftLabel(value=0.5), pb.SoftLabel(), pb.SoftLabel(value=1)],
                           rollouts=[4, 0, 0], correct_rollouts=[2, 0, 0], first_error_step=-1,
                           outcome_correct=True, model="sim", grader_version="test/1")
            for i in range(N_RECORDS)]

    def _auth(self, context):
        md = dict(context.invocation_metadata())
        if md.get("authorization") != "Bearer " + TOKEN:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid bearer token")

    def _job(self, job_id, state=pb.JOB_STATE_SUCCEEDED):
        return pb.Job(id=job_id, state=state, model="sim", solutions_total=N_RECORDS,
                      solutions_done=N_RECORDS if state == pb.JOB_STATE_SUCCEEDED else 0)

    def _follow(self, job_id, cursor, resp):
        start = int(cursor[1:]) if cursor else 0
        for i in range(start, N_RECORDS):
            yield resp(record=self.records[i], cursor="c%d" % (i + 1))
        yield resp(job=self._job(job_id), cursor="c%d" % N_RECORDS)

    def _create(self, request):
        with self.lock:
            return self.jobs.setdefault(request.request_id, "job-%d" % (len(self.jobs) + 1))

    def SubmitJob(self, request, context):
        self._auth(context)
        with self.lock:
            self.requests.append(("SubmitJob", request))
        return pb.SubmitJobResponse(job=self._job(self._create(request), pb.JOB_STATE_QUEUED))

    def StreamLabels(self, request, context):
        self._auth(context)
        with self.lock:
            self.requests.append(("StreamLabels", request))
        if request.job_id not in self.jobs.values():
            context.abort(grpc.StatusCode.NOT_FOUND, "job %s not found" % request.job_id)
        yield from self._follow(request.job_id, request.cursor, pb.StreamLabelsResponse)

    def LabelSolutions(self, request, context):
        self._auth(context)
        with self.lock:
            self.requests.append(("LabelSolutions", request))
        job_id = self._create(request)
        yield pb.LabelSolutionsResponse(job=self._job(job_id, pb.JOB_STATE_QUEUED))
        yield from self._follow(job_id, "", pb.LabelSolutionsResponse)


PROBLEMS = [{"id": "p0", "question": "q", "answer": "3", "solutions": ["a", {"id": "b", "steps": ["x"]}]}]


class LoopbackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.servicer = Servicer()
        cls.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        pb_grpc.add_ShepherdServiceServicer_to_server(cls.servicer, cls.server)
        cls.port = cls.server.add_insecure_port("127.0.0.1:0")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(None)

    def setUp(self):
        self.servicer.requests.clear()

    def expected_ids(self):
        return ["s%d" % i for i in range(N_RECORDS)]

    def test_submit_and_stream_direct(self):
        with sc.connect("127.0.0.1:%d" % self.port, token=TOKEN) as client:
            job = client.submit(PROBLEMS, "sim", n=4)
            self.assertEqual(job.state, pb.JOB_STATE_QUEUED)
            stream = client.labels(job.id)
            rows = list(sc.trl_rows(stream, soft=True))
        self.assertEqual(len(rows), N_RECORDS)
        self.assertEqual(rows[0]["soft_labels"], [0.5, 1.0, 1.0])  # inferred: the hard label
        self.assertEqual(stream.reconnects, 0)
        self.assertEqual(stream.cursor, "c%d" % N_RECORDS)
        method, req = self.servicer.requests[0]
        self.assertEqual(method, "SubmitJob")
        self.assertEqual([s.WhichOneof("body") for s in req.problems[0].solutions], ["text", "steps"])

    def test_stream_resumes_after_connection_cut(self):
        with sc.connect("127.0.0.1:%d" % self.port, token=TOKEN) as direct:
            job = direct.submit(PROBLEMS, "sim")
        proxy = Proxy(self.port, cut_after=4000)
        try:
            with sc.connect("127.0.0.1:%d" % proxy.port, token=TOKEN) as client:
                stream = client.labels(job.id)
                ids = [r.solution_id for r in stream]
        finally:
            proxy.close()
        self.assertTrue(proxy.cut.is_set())
        self.assertEqual(ids, self.expected_ids())
        self.assertGreaterEqual(stream.reconnects, 1)
        # Resumed from the last cursor the client saw (messages the transport
        # had buffered but not delivered when the connection broke are lost
        # with it, so that may still be the start).
        cursors = [r.cursor for m, r in self.servicer.requests if m == "StreamLabels"]
        self.assertGreaterEqual(len(cursors), 2)
        self.assertEqual(cursors[0], "")
        positions = [int(c[1:]) if c else 0 for c in cursors]
        self.assertEqual(positions, sorted(positions))

    def test_label_solutions_resumes_after_connection_cut(self):
        proxy = Proxy(self.port, cut_after=4000)
        try:
            with sc.connect("127.0.0.1:%d" % proxy.port, token=TOKEN) as client:
                stream = client.label(PROBLEMS, "sim", strategy="binary")
                ids = [r.solution_id for r in stream]
        finally:
            proxy.close()
        self.assertTrue(proxy.cut.is_set())
        self.assertEqual(ids, self.expected_ids())
        self.assertGreaterEqual(stream.reconnects, 1)
        methods = [m for m, _ in self.servicer.requests]
        self.assertEqual(methods[0], "LabelSolutions")
        self.assertIn("StreamLabels", methods)
        self.assertEqual(stream.job_id, self.servicer.jobs[stream.request_id])

    def test_errors_other_than_unavailable_are_raised(self):
        with sc.connect("127.0.0.1:%d" % self.port, token="wrong") as client:
            with self.assertRaises(grpc.RpcError) as cm:
                list(client.labels("job-1"))
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        with sc.connect("127.0.0.1:%d" % self.port, token=TOKEN) as client:
            with self.assertRaises(grpc.RpcError) as cm:
                list(client.labels("no-such-job"))
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(len(self.servicer.requests), 1)

    def test_unreachable_server_gives_up(self):
        proxy = Proxy(self.port, cut_after=0)
        proxy.close()  # nothing listens on its port any more
        with sc.connect("127.0.0.1:%d" % proxy.port, retry_timeout=1.0) as client:
            with self.assertRaises(grpc.RpcError) as cm:
                list(client.labels("job-1"))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)


class TLSTest(unittest.TestCase):
    def test_ca_path_and_bytes(self):
        openssl = shutil.which("openssl")
        if not openssl:
            raise unittest.SkipTest("openssl is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
            subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                            "-keyout", key, "-out", cert], check=True, capture_output=True)
            with open(key, "rb") as f, open(cert, "rb") as g:
                key_pem, cert_pem = f.read(), g.read()
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            servicer = Servicer()
            pb_grpc.add_ShepherdServiceServicer_to_server(servicer, server)
            port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
            server.start()
            try:
                for ca in (cert, cert_pem):
                    with sc.connect("127.0.0.1:%d" % port, token=TOKEN, ca=ca) as client:
                        job = client.submit(PROBLEMS, "sim")
                        self.assertEqual(len(list(client.labels(job.id))), N_RECORDS)
            finally:
                server.stop(None)


if __name__ == "__main__":
    unittest.main()
