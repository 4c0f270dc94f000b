"""gRPC client of the shepherd API with resumable label streams."""

import random
import time

import grpc

from ._proto import shepherd_pb2 as pb
from ._proto import shepherd_pb2_grpc as pb_grpc

from .build import build_submit

__all__ = ["Client", "LabelStream", "connect", "TERMINAL_STATES"]

# Job states a job never leaves.
TERMINAL_STATES = frozenset({
    pb.JOB_STATE_SUCCEEDED,
    pb.JOB_STATE_PARTIAL,
    pb.JOB_STATE_FAILED,
    pb.JOB_STATE_CANCELLED,
})

# The server's default maximum message size.
_MAX_MESSAGE_BYTES = 64 << 20


def connect(addr, token=None, tls=False, ca=None, options=None, retry_timeout=60.0):
    """Opens a channel to a shepherd server and returns a Client.

    addr is "host:port". token is a bearer token, sent as the metadata
    "authorization: Bearer <token>" on every call. tls=True uses TLS with the
    system's root certificates; ca (a PEM file path or PEM bytes) uses TLS
    trusting that CA and implies tls. options are extra gRPC channel options
    (a list of (key, value)). retry_timeout bounds, in seconds, how long a
    call keeps retrying UNAVAILABLE without making progress.
    """
    return Client(addr, token=token, tls=tls, ca=ca, options=options, retry_timeout=retry_timeout)


def _read_ca(ca):
    if ca is None:
        return None
    if isinstance(ca, (bytes, bytearray)):
        return bytes(ca)
    with open(ca, "rb") as f:
        return f.read()


class Client:
    """A connection to a shepherd server; see connect()."""

    # Status codes after which a call is retried (label streams resume from
    # their last cursor; submissions are idempotent on request_id).
    retry_codes = (grpc.StatusCode.UNAVAILABLE,)

    def __init__(self, addr, token=None, tls=False, ca=None, options=None, retry_timeout=60.0):
        self._conn_args = dict(addr=addr, token=token, tls=tls, ca=ca, options=options,
                               retry_timeout=retry_timeout)
        opts = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
        ]
        opts += list(options or [])
        if tls or ca is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=_read_ca(ca))
            self.channel = grpc.secure_channel(addr, creds, options=opts)
        else:
            self.channel = grpc.insecure_channel(addr, options=opts)
        self.stub = pb_grpc.ShepherdServiceStub(self.channel)
        self.metadata = (("authorization", "Bearer " + token),) if token else ()
        self.retry_timeout = retry_timeout

    def reopen(self):
        """A new Client with the same settings and a channel of its own
        (for another process, e.g. a DataLoader worker)."""
        return Client(**self._conn_args)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Unary calls.

    def _unary(self, method, request, timeout=None):
        backoff = _Backoff(self.retry_timeout)
        while True:
            try:
                return method(request, metadata=self.metadata, timeout=timeout)
            except grpc.RpcError as err:
                if err.code() not in self.retry_codes or not backoff.wait():
                    raise

    def submit(self, problems, model, request_id=None, timeout=None, **spec):
        """Submits a labeling job and returns its Job (usually QUEUED).

        problems are dicts in the JSONL input shape (or Problem messages);
        spec is the JobSpec as keyword arguments (strategy="binary", n=8,
        seed=1, temperature, top_p, max_tokens, stop, split, split_tag,
        max_steps, reuse). UNAVAILABLE is retried with the same request_id,
        so a retry never creates a second job.
        """
        req = build_submit(problems, model, request_id=request_id, **spec)
        return self._unary(self.stub.SubmitJob, req, timeout).job

    def get_job(self, job_id, timeout=None):
        """The job's current state and counts."""
        return self._unary(self.stub.GetJob, pb.GetJobRequest(job_id=job_id), timeout).job

    def cancel_job(self, job_id, timeout=None):
        """Cancels a job; returns it (CANCELLED or its earlier terminal state)."""
        return self._unary(self.stub.CancelJob, pb.CancelJobRequest(job_id=job_id), timeout).job

    def list_jobs(self, states=(), page_size=0):
        """Yields the caller's jobs, newest first, following pages."""
        token = ""
        while True:
            resp = self._unary(self.stub.ListJobs, pb.ListJobsRequest(
                page_size=page_size, page_token=token, states=list(states)))
            yield from resp.jobs
            token = resp.next_page_token
            if not token:
                return

    # Streams.

    def labels(self, job_id, cursor=None):
        """A LabelStream over the job's LabelRecords from cursor (None: the
        first record), following the job until it ends.

        A stream that breaks with UNAVAILABLE (or ends without the job's
        terminal snapshot) is resumed from the last cursor, so every record
        is yielded exactly once, in the server's order.
        """
        return LabelStream(self, job_id=job_id, cursor=cursor or "")

    def label(self, problems, model, request_id=None, **spec):
        """Submits a job with LabelSolutions and returns a LabelStream of its
        records, resumed like labels(). Arguments are submit()'s; the stream's
        job_id is set once the server has answered."""
        req = build_submit(problems, model, request_id=request_id,
                           request_type=pb.LabelSolutionsRequest, **spec)
        return LabelStream(self, request=req)


class _Backoff:
    """Exponential backoff with jitter, giving up after `timeout` seconds
    without progress."""

    def __init__(self, timeout, first=0.05, cap=2.0):
        self.timeout = timeout
        self.first = first
        self.cap = cap
        self.reset()

    def reset(self):
        self.attempt = 0
        self.since = time.monotonic()

    def wait(self):
        """Sleeps before the next attempt; False when the time is up."""
        delay = min(self.cap, self.first * (2 ** self.attempt)) * random.uniform(0.5, 1.0)
        if self.timeout is not None and time.monotonic() + delay - self.since > self.timeout:
            return False
        self.attempt += 1
        time.sleep(delay)
        return True


class LabelStream:
    """An iterator over the LabelRecords of a job.

    Attributes: job_id; request_id (of label()'s submission); cursor, the
    position just after the last message received (pass it to
    Client.labels to resume elsewhere); job, the last Job snapshot received
    (the terminal one at the end); reconnects, how often the stream was
    resumed. close() (or leaving a `with` block) stops
    it early; the job keeps running on the server.
    """

    def __init__(self, client, job_id="", cursor="", request=None):
        self._client = client
        self.job_id = job_id
        self.cursor = cursor
        self.job = None
        self.reconnects = 0
        self.request_id = request.request_id if request is not None else ""
        self._request = request  # LabelSolutionsRequest, until the job id is known
        self._call = None
        self._gen = self._run()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def close(self):
        self._gen.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _open(self):
        c = self._client
        if self._request is not None and not self.job_id:
            # Retrying LabelSolutions with the same request_id finds the job
            # the first attempt created.
            return c.stub.LabelSolutions(self._request, metadata=c.metadata)
        return c.stub.StreamLabels(
            pb.StreamLabelsRequest(job_id=self.job_id, cursor=self.cursor), metadata=c.metadata)

    def _run(self):
        backoff = _Backoff(self._client.retry_timeout)
        while True:
            terminal = False
            self._call = self._open()
            try:
                for msg in self._call:
                    backoff.reset()
                    kind = msg.WhichOneof("event")
                    # Done when the last message is a terminal snapshot.
                    terminal = kind == "job" and msg.job.state in TERMINAL_STATES
                    if kind == "job":
                        self.job = msg.job
                        if not self.job_id:
                            self.job_id = msg.job.id
                    if msg.cursor:
                        self.cursor = msg.cursor
                    if kind == "record":
                        yield msg.record
                if terminal:
                    return
                err = None
            except grpc.RpcError as e:
                if e.code() not in self._client.retry_codes:
                    raise
                err = e
            finally:
                self._call.cancel()
            # The stream broke, or ended without the terminal snapshot.
            if not backoff.wait():
                if err is not None:
                    raise err
                raise RuntimeError("label stream of job %s keeps ending early" % self.job_id)
            self.reconnects += 1

