"""LabelDataset: a job's label stream as an (iterable) training data set."""

from .trl import trl_row

__all__ = ["LabelDataset", "HAVE_TORCH"]

try:
    from torch.utils.data import IterableDataset as _Base
    from torch.utils.data import get_worker_info as _worker_info
except ImportError:
    _Base, _worker_info = object, lambda: None

HAVE_TORCH = _Base is not object


class LabelDataset(_Base):
    """The label records of a job as TRL rows, streamed from the server.

    A torch.utils.data.IterableDataset when torch is importable, else a
    plain iterable with the same interface. Each iteration streams the job
    from `cursor` (None: the first record), following it until it ends and
    resuming after dropped connections, and yields
    {"prompt", "completions", "labels"} rows (+ "soft_labels" with
    soft=True), or the LabelRecord messages themselves with records=True.

    In a DataLoader with several workers, each worker opens its own
    connection and keeps every num_workers-th record, so every record is
    yielded once in all.
    """

    def __init__(self, client, job_id, cursor=None, soft=False, records=False):
        if HAVE_TORCH:
            super().__init__()
        self.client = client
        self.job_id = job_id
        self.cursor = cursor
        self.soft = soft
        self.records = records

    def __iter__(self):
        info = _worker_info()
        client, shard, shards = self.client, 0, 1
        if info is not None:
            # A channel must not be shared across fork: reconnect per worker.
            client, shard, shards = self.client.reopen(), info.id, info.num_workers
        stream = client.labels(self.job_id, cursor=self.cursor)
        try:
            for i, record in enumerate(stream):
                if i % shards != shard:
                    continue
                yield record if self.records else trl_row(record, soft=self.soft)
        finally:
            stream.close()
            if client is not self.client:
                client.close()
