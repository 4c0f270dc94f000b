"""End to end: a private redis-server, `shepherd serve` and `shepherd worker
--backend sim` built from this checkout, and the client streaming simulator
labels into TRL rows, across dropped connections.

Skipped when go, redis-server or the serve/worker commands are missing, or
the binary does not build; with the environment variable CI set these fail
instead.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

from _support import REPO_ROOT, Proxy, skip_or_fail

import shepherd_prm as sc
from shepherd_prm._proto import shepherd_pb2 as pb

PROBLEMS_FILE = REPO_ROOT / "examples" / "sim-problems.jsonl"
N_PROBLEMS = 6
MODEL = "sim"
STARTUP_TIMEOUT = 30.0
JOB_TIMEOUT = 120.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with status %s" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on port %d within %.0fs" % (what, port, timeout))


class EndToEndTest(unittest.TestCase):
    procs = []
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="shepherd-client-e2e-")
        try:
            cls._start()
        except BaseException:
            cls._stop()
            raise

    @classmethod
    def _start(cls):
        go = shutil.which("go")
        if not go:
            skip_or_fail("go is not installed")
        redis = shutil.which("redis-server")
        if not redis:
            skip_or_fail("redis-server is not installed")
        binary = os.path.join(cls.tmp, "shepherd")
        build = subprocess.run([go, "build", "-o", binary, "./cmd/shepherd"], cwd=REPO_ROOT,
                               capture_output=True, text=True)
        if build.returncode != 0:
            skip_or_fail("cannot build ./cmd/shepherd:\n" + build.stderr[-2000:])
        for cmd in ("serve", "worker"):
            r = subprocess.run([binary, cmd, "-h"], capture_output=True, text=True, timeout=30)
            if "unknown command" in r.stderr:
                skip_or_fail("shepherd has no %r command yet" % cmd)

        rport = free_port()
        cls._spawn("redis", [redis, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", cls.tmp])
        wait_port(rport, cls.procs[-1][1], STARTUP_TIMEOUT, "redis-server")
        redis_url = "redis://127.0.0.1:%d/0" % rport

        port = free_port()
        cls._spawn("serve", [binary, "serve", "--listen", "127.0.0.1:%d" % port,
                             "--redis", redis_url, "--metrics-listen", "127.0.0.1:0"])
        cls._spawn("worker", [binary, "worker", "--redis", redis_url, "--backend", "sim",
                              "--model", MODEL])
        wait_port(port, cls.procs[-2][1], STARTUP_TIMEOUT, "shepherd serve")
        cls.port = port
        cls.binary = binary
        cls.addr = "127.0.0.1:%d" % port
        cls.client = sc.connect(cls.addr)
        grpc.channel_ready_future(cls.client.channel).result(timeout=STARTUP_TIMEOUT)

        with open(PROBLEMS_FILE) as f:
            cls.problems = [json.loads(line) for line in f if line.strip()][:N_PROBLEMS]
        cls.solution_ids = {s["id"] for p in cls.problems for s in p["solutions"]}
        cls.questions = {p["id"]: p["question"] for p in cls.problems}

    @classmethod
    def _spawn(cls, name, argv):
        log = open(os.path.join(cls.tmp, name + ".log"), "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        cls.procs.append((name, proc, log))

    @classmethod
    def _stop(cls):
        if getattr(cls, "client", None) is not None:
            cls.client.close()
        for _, proc, _ in reversed(cls.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc, log in reversed(cls.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        cls.procs = []
        if cls.tmp:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._stop()

    def logs(self):
        out = []
        for name, _, log in self.procs:
            log.flush()
            with open(log.name, "rb") as f:
                out.append("--- %s ---\n%s" % (name, f.read()[-3000:].decode(errors="replace")))
        return "\n".join(out)

    def submit(self, **spec):
        spec.setdefault("n", 4)
        spec.setdefault("seed", 1)
        return self.client.submit(self.problems, MODEL, **spec)

    def read_all(self, stream):
        deadline = time.monotonic() + JOB_TIMEOUT
        out = []
        for record in stream:
            out.append(record)
            self.assertLess(time.monotonic(), deadline, "job did not finish in time\n" + self.logs())
        return out

    def check_records(self, records, stream):
        ids = [r.solution_id for r in records]
        self.assertEqual(len(ids), len(set(ids)), "a record was seen twice")
        self.assertEqual(set(ids), self.solution_ids)
        self.assertIsNotNone(stream.job)
        self.assertEqual(pb.JobState.Name(stream.job.state), "JOB_STATE_SUCCEEDED", self.logs())
        self.assertEqual(stream.job.solutions_done, len(self.solution_ids))

    def test_stream_into_trl_rows(self):
        job = self.submit()
        self.assertTrue(job.id)
        stream = self.client.labels(job.id)
        records = self.read_all(stream)
        self.check_records(records, stream)
        rows = list(sc.trl_rows(records, soft=True))
        self.assertEqual(len(rows), len(self.solution_ids))
        for rec, row in zip(records, rows):
            self.assertEqual(set(row), {"prompt", "completions", "labels", "soft_labels"})
            self.assertEqual(row["prompt"], self.questions[rec.problem_id])
            n = len(row["completions"])
            self.assertGreater(n, 1)
            self.assertTrue(all(isinstance(c, str) and c for c in row["completions"]))
            self.assertEqual(len(row["labels"]), n)
            self.assertEqual(len(row["soft_labels"]), n)
            self.assertTrue(all(isinstance(x, bool) for x in row["labels"]))
            # Exhaustive: every step measured, soft labels in [0, 1].
            self.assertTrue(all(isinstance(x, float) and 0 <= x <= 1 for x in row["soft_labels"]))
            # The last step's label is the solution's graded outcome.
            self.assertEqual(row["labels"][-1], rec.outcome_correct)
            self.assertEqual(rec.model, MODEL)
        # Hard rows are the same without soft labels.
        self.assertEqual([{k: v for k, v in r.items() if k != "soft_labels"} for r in rows],
                         list(sc.trl_rows(records)))
        # The job is replayed in the same order, and as a LabelDataset.
        self.assertEqual([r.solution_id for r in self.client.labels(job.id)],
                         [r.solution_id for r in records])
        self.assertEqual(list(sc.LabelDataset(self.client, job.id, soft=True)), rows)

    def test_binary_strategy_soft_labels_as_export(self):
        job = self.submit(strategy="binary")
        stream = self.client.labels(job.id)
        records = self.read_all(stream)
        self.check_records(records, stream)
        # A solution whose answer is right is labeled without rollouts: its
        # steps before the last carry no measured soft label.
        self.assertTrue(any(not s.HasField("value") for r in records for s in r.soft_labels))
        rows = list(sc.trl_rows(records, soft=True))
        for rec, row in zip(records, rows):
            self.assertEqual(rec.strategy, pb.STRATEGY_BINARY)
            self.assertEqual(len(row["soft_labels"]), len(row["completions"]))
            for s, h, m in zip(row["soft_labels"], row["labels"], rec.soft_labels):
                self.assertIs(type(s), float)
                self.assertEqual(s, m.value if m.HasField("value") else float(h))

    def test_soft_rows_equal_cli_export(self):
        # The same records through `shepherd export --format trl --soft` and
        # trl_rows(soft=True) give the same rows.
        src = os.path.join(self.tmp, "problems.jsonl")
        with open(src, "w") as f:
            for p in self.problems:
                f.write(json.dumps(p) + "\n")
        labels = os.path.join(self.tmp, "labels.jsonl")
        exported = os.path.join(self.tmp, "trl.jsonl")
        for argv in (["label", "--in", src, "--backend", "sim", "--strategy", "binary", "--n", "4",
                      "--seed", "1", "--out", labels],
                     ["export", "--in", labels, "--format", "trl", "--soft", "--out", exported]):
            r = subprocess.run([self.binary] + argv, capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
        with open(labels) as f:
            records = [json.loads(line) for line in f if line.strip()]
        self.assertTrue(any(s is None for r in records for s in r["soft_labels"]),
                        "binary search inferred no label: the comparison would prove nothing")
        with open(exported) as f:
            cli_rows = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(list(sc.trl_rows(records, soft=True)), cli_rows)

    def test_pip_install_into_fresh_venv_streams_rows(self):
        # `pip install ./client/python` into a fresh venv, offline (no index:
        # grpcio and protobuf come from the system's site packages, Debian's
        # python3-grpcio and python3-protobuf, the declared lower bounds),
        # then the installed package streams TRL rows from the running serve.
        venv = os.path.join(self.tmp, "venv")
        r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                           capture_output=True, text=True)
        if r.returncode != 0:
            skip_or_fail("python3 -m venv failed (apt-get install python3-venv):\n" + r.stderr)
        py = os.path.join(venv, "bin", "python")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL")}
        env["PIP_NO_INDEX"] = "1"
        r = subprocess.run([py, "-m", "pip", "install", "--no-index", "--no-build-isolation",
                            "./client/python"], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        script = (
            "import json, sys, importlib.metadata as md\n"
            "import shepherd_prm as sc\n"
            "problems = [json.loads(l) for l in open(sys.argv[2]) if l.strip()][:%d]\n"
            "c = sc.connect(sys.argv[1])\n"
            "rows = list(sc.trl_rows(c.label(problems, 'sim', n=4, seed=3), soft=True))\n"
            "print(json.dumps({'file': sc.__file__, 'rows': rows,\n"
            "                  'requires': md.requires('shepherd-prm'),\n"
            "                  'grpcio': md.version('grpcio'), 'protobuf': md.version('protobuf')}))\n"
        ) % N_PROBLEMS
        # Run outside the checkout, so only the installed copy can be imported.
        r = subprocess.run([py, "-c", script, self.addr, str(PROBLEMS_FILE)], cwd=venv, env=env,
                           capture_output=True, text=True, timeout=JOB_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:] + self.logs())
        out = json.loads(r.stdout)
        self.assertTrue(out["file"].startswith(venv), out["file"])
        self.assertEqual(len(out["rows"]), len(self.solution_ids))
        for row in out["rows"]:
            self.assertEqual(len(row["labels"]), len(row["completions"]))
            self.assertEqual(len(row["soft_labels"]), len(row["completions"]))
        # The declared ranges are in the installed metadata (pip checked the
        # system's grpcio and protobuf against them).
        requires = sorted(q.replace(" ", "").replace("(", "").replace(")", "")
                          for q in out["requires"] if ";" not in q)
        self.assertEqual(requires, ["grpcio<2,>=1.51.1", "protobuf<5,>=4.21.12"])

    def test_resume_from_cursor(self):
        job = self.submit()
        full = [r.solution_id for r in self.read_all(self.client.labels(job.id))]
        k = len(full) // 3
        with self.client.labels(job.id) as first:
            head = [next(first).solution_id for _ in range(k)]
            cursor = first.cursor
        self.assertTrue(cursor)
        rest = self.client.labels(job.id, cursor=cursor)
        tail = [r.solution_id for r in self.read_all(rest)]
        self.assertEqual(head + tail, full)

    def test_reconnects_after_dropped_connection(self):
        job = self.submit()
        proxy = Proxy(self.port, cut_after=3000)
        via = sc.connect("127.0.0.1:%d" % proxy.port)
        try:
            stream = via.labels(job.id)
            records = self.read_all(stream)
        finally:
            via.close()
            proxy.close()
        self.assertTrue(proxy.cut.is_set(), "the proxy never cut the stream")
        self.assertGreaterEqual(stream.reconnects, 1)
        self.assertGreaterEqual(proxy.connections, 2)
        self.check_records(records, stream)
        self.assertEqual([r.solution_id for r in records],
                         [r.solution_id for r in self.client.labels(job.id)])

    def test_label_solutions_reconnects(self):
        proxy = Proxy(self.port, cut_after=3000)
        via = sc.connect("127.0.0.1:%d" % proxy.port)
        try:
            stream = via.label(self.problems, MODEL, n=4, seed=2)
            records = self.read_all(stream)
        finally:
            via.close()
            proxy.close()
        self.assertTrue(proxy.cut.is_set(), "the proxy never cut the stream")
        self.assertGreaterEqual(stream.reconnects, 1)
        self.assertTrue(stream.job_id)
        self.check_records(records, stream)
        rows = list(sc.trl_rows(records))
        self.assertEqual(len(rows), len(self.solution_ids))
        # Exactly one job was created for the call, whatever was retried.
        jobs = [j.id for j in self.client.list_jobs() if j.request_id == stream.request_id]
        self.assertEqual(jobs, [stream.job_id])


if __name__ == "__main__":
    unittest.main()
