"""Python client of shepherd: submit labeling jobs, stream their label records
(resuming dropped streams from the last cursor) and turn them into TRL
stepwise-supervision rows.

    import shepherd_prm as sc

    client = sc.connect("127.0.0.1:50051")
    job = client.submit(problems, "Qwen/Qwen2.5-Math-7B-Instruct", n=8)
    rows = list(sc.trl_rows(client.labels(job.id), soft=True))

The generated messages and stub of the shepherd.v1 API are
shepherd_prm.pb and shepherd_prm.pb_grpc (the modules
shepherd_prm._proto.shepherd_pb2 and shepherd_pb2_grpc).
"""

from ._proto import shepherd_pb2 as pb
from ._proto import shepherd_pb2_grpc as pb_grpc

from .build import build_problems, build_spec, build_submit, new_request_id
from .client import TERMINAL_STATES, Client, LabelStream, connect
from .trl import FailedStepsError, trl_row, trl_rows

__all__ = [
    "Client",
    "FailedStepsError",
    "LabelDataset",
    "LabelStream",
    "TERMINAL_STATES",
    "build_problems",
    "build_spec",
    "build_submit",
    "connect",
    "new_request_id",
    "pb",
    "pb_grpc",
    "trl_row",
    "trl_rows",
]


def __getattr__(name):
    # LabelDataset is loaded on first use, so that importing the client does
    # not import torch.
    if name == "LabelDataset":
        from .dataset import LabelDataset

        return LabelDataset
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
