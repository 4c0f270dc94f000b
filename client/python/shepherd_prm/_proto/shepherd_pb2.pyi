from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

AGGREGATION_LAST: Aggregation
AGGREGATION_MEAN: Aggregation
AGGREGATION_MIN: Aggregation
AGGREGATION_PROD: Aggregation
AGGREGATION_UNSPECIFIED: Aggregation
DESCRIPTOR: _descriptor.FileDescriptor
JOB_STATE_CANCELLED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_PARTIAL: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_UNSPECIFIED: JobState
SCORE_LAYOUT_CUSTOM: ScoreLayout
SCORE_LAYOUT_MATH_SHEPHERD: ScoreLayout
SCORE_LAYOUT_QWEN_PRM: ScoreLayout
SCORE_LAYOUT_UNSPECIFIED: ScoreLayout
SCORE_MODE_MC: ScoreMode
SCORE_MODE_PRM: ScoreMode
SCORE_MODE_UNSPECIFIED: ScoreMode
SPLIT_MODE_AUTO: SplitMode
SPLIT_MODE_LINE: SplitMode
SPLIT_MODE_PARAGRAPH: SplitMode
SPLIT_MODE_STEP: SplitMode
SPLIT_MODE_TAG: SplitMode
SPLIT_MODE_UNSPECIFIED: SplitMode
STRATEGY_BINARY: Strategy
STRATEGY_EXHAUSTIVE: Strategy
STRATEGY_UNSPECIFIED: Strategy

class CancelJobRequest(_message.Message):
    __slots__ = ["job_id"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ["id", "steps", "text"]
    ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    steps: Steps
    text: str
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., steps: _Optional[_Union[Steps, _Mapping]] = ...) -> None: ...

class CandidateScore(_message.Message):
    __slots__ = ["answer", "correct", "id", "score", "step_scores"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    STEP_SCORES_FIELD_NUMBER: _ClassVar[int]
    answer: str
    correct: bool
    id: str
    score: float
    step_scores: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, id: _Optional[str] = ..., step_scores: _Optional[_Iterable[float]] = ..., score: _Optional[float] = ..., answer: _Optional[str] = ..., correct: bool = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ["job_id"]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ["cached_tokens", "completion_tokens", "create_time", "error", "finish_time", "id", "model", "prompt_tokens", "request_id", "rollouts", "shared_rollouts", "solutions_done", "solutions_total", "spec", "state", "tasks_done", "tasks_failed", "tasks_total", "update_time"]
    CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    SHARED_ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    SOLUTIONS_DONE_FIELD_NUMBER: _ClassVar[int]
    SOLUTIONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TASKS_DONE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FAILED_FIELD_NUMBER: _ClassVar[int]
    TASKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    cached_tokens: int
    completion_tokens: int
    create_time: _timestamp_pb2.Timestamp
    error: str
    finish_time: _timestamp_pb2.Timestamp
    id: str
    model: str
    prompt_tokens: int
    request_id: str
    rollouts: int
    shared_rollouts: int
    solutions_done: int
    solutions_total: int
    spec: JobSpec
    state: JobState
    tasks_done: int
    tasks_failed: int
    tasks_total: int
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., model: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., solutions_total: _Optional[int] = ..., solutions_done: _Optional[int] = ..., tasks_total: _Optional[int] = ..., tasks_done: _Optional[int] = ..., tasks_failed: _Optional[int] = ..., rollouts: _Optional[int] = ..., shared_rollouts: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., cached_tokens: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ["max_steps", "max_tokens", "n", "reuse", "seed", "split", "split_tag", "stop", "strategy", "temperature", "top_p"]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    REUSE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    SPLIT_TAG_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    max_steps: int
    max_tokens: int
    n: int
    reuse: bool
    seed: int
    split: SplitMode
    split_tag: str
    stop: _containers.RepeatedScalarFieldContainer[str]
    strategy: Strategy
    temperature: float
    top_p: float
    def __init__(self, strategy: _Optional[_Union[Strategy, str]] = ..., n: _Optional[int] = ..., seed: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., max_tokens: _Optional[int] = ..., stop: _Optional[_Iterable[str]] = ..., split: _Optional[_Union[SplitMode, str]] = ..., split_tag: _Optional[str] = ..., max_steps: _Optional[int] = ..., reuse: bool = ...) -> None: ...

class LabelRecord(_message.Message):
    __slots__ = ["completion_tokens", "completions", "correct_rollouts", "failed_steps", "first_error_step", "grader_version", "labels", "min_score", "model", "outcome_correct", "problem_id", "prompt", "rollouts", "soft_labels", "solution_id", "strategy"]
    COMPLETIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CORRECT_ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    FAILED_STEPS_FIELD_NUMBER: _ClassVar[int]
    FIRST_ERROR_STEP_FIELD_NUMBER: _ClassVar[int]
    GRADER_VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_CORRECT_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    SOFT_LABELS_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    completion_tokens: int
    completions: _containers.RepeatedScalarFieldContainer[str]
    correct_rollouts: _containers.RepeatedScalarFieldContainer[int]
    failed_steps: _containers.RepeatedScalarFieldContainer[int]
    first_error_step: int
    grader_version: str
    labels: _containers.RepeatedScalarFieldContainer[bool]
    min_score: float
    model: str
    outcome_correct: bool
    problem_id: str
    prompt: str
    rollouts: _containers.RepeatedScalarFieldContainer[int]
    soft_labels: _containers.RepeatedCompositeFieldContainer[SoftLabel]
    solution_id: str
    strategy: Strategy
    def __init__(self, problem_id: _Optional[str] = ..., solution_id: _Optional[str] = ..., prompt: _Optional[str] = ..., completions: _Optional[_Iterable[str]] = ..., labels: _Optional[_Iterable[bool]] = ..., soft_labels: _Optional[_Iterable[_Union[SoftLabel, _Mapping]]] = ..., rollouts: _Optional[_Iterable[int]] = ..., correct_rollouts: _Optional[_Iterable[int]] = ..., completion_tokens: _Optional[int] = ..., first_error_step: _Optional[int] = ..., min_score: _Optional[float] = ..., outcome_correct: bool = ..., failed_steps: _Optional[_Iterable[int]] = ..., strategy: _Optional[_Union[Strategy, str]] = ..., model: _Optional[str] = ..., grader_version: _Optional[str] = ...) -> None: ...

class LabelSolutionsRequest(_message.Message):
    __slots__ = ["model", "problems", "request_id", "spec"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    model: str
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    request_id: str
    spec: JobSpec
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ...) -> None: ...

class LabelSolutionsResponse(_message.Message):
    __slots__ = ["cursor", "job", "record"]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    job: Job
    record: LabelRecord
    def __init__(self, record: _Optional[_Union[LabelRecord, _Mapping]] = ..., job: _Optional[_Union[Job, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "states"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[JobState]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[JobState, str]]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ["jobs", "next_page_token"]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Problem(_message.Message):
    __slots__ = ["answer", "id", "question", "solutions"]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    SOLUTIONS_FIELD_NUMBER: _ClassVar[int]
    answer: str
    id: str
    question: str
    solutions: _containers.RepeatedCompositeFieldContainer[Solution]
    def __init__(self, id: _Optional[str] = ..., question: _Optional[str] = ..., answer: _Optional[str] = ..., solutions: _Optional[_Iterable[_Union[Solution, _Mapping]]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ["aggregate", "answer", "candidates", "id", "layout", "mode", "model", "positive_index", "question", "spec", "step_tag"]
    AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_INDEX_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STEP_TAG_FIELD_NUMBER: _ClassVar[int]
    aggregate: Aggregation
    answer: str
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    id: str
    layout: ScoreLayout
    mode: ScoreMode
    model: str
    positive_index: int
    question: str
    spec: JobSpec
    step_tag: str
    def __init__(self, id: _Optional[str] = ..., question: _Optional[str] = ..., answer: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., model: _Optional[str] = ..., layout: _Optional[_Union[ScoreLayout, str]] = ..., step_tag: _Optional[str] = ..., positive_index: _Optional[int] = ..., aggregate: _Optional[_Union[Aggregation, str]] = ..., mode: _Optional[_Union[ScoreMode, str]] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ["best", "best_correct", "candidates", "grader_version", "id", "majority_answer", "reference_answer", "weighted_best_answer"]
    BEST_CORRECT_FIELD_NUMBER: _ClassVar[int]
    BEST_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    GRADER_VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MAJORITY_ANSWER_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ANSWER_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_BEST_ANSWER_FIELD_NUMBER: _ClassVar[int]
    best: int
    best_correct: bool
    candidates: _containers.RepeatedCompositeFieldContainer[CandidateScore]
    grader_version: str
    id: str
    majority_answer: str
    reference_answer: str
    weighted_best_answer: str
    def __init__(self, id: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[CandidateScore, _Mapping]]] = ..., best: _Optional[int] = ..., weighted_best_answer: _Optional[str] = ..., majority_answer: _Optional[str] = ..., best_correct: bool = ..., grader_version: _Optional[str] = ..., reference_answer: _Optional[str] = ...) -> None: ...

class SoftLabel(_message.Message):
    __slots__ = ["value"]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: float
    def __init__(self, value: _Optional[float] = ...) -> None: ...

class Solution(_message.Message):
    __slots__ = ["id", "steps", "text"]
    ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    steps: Steps
    text: str
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., steps: _Optional[_Union[Steps, _Mapping]] = ...) -> None: ...

class Steps(_message.Message):
    __slots__ = ["steps"]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, steps: _Optional[_Iterable[str]] = ...) -> None: ...

class StreamLabelsRequest(_message.Message):
    __slots__ = ["cursor", "job_id"]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    job_id: str
    def __init__(self, job_id: _Optional[str] = ..., cursor: _Optional[str] = ...) -> None: ...

class StreamLabelsResponse(_message.Message):
    __slots__ = ["cursor", "job", "record"]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    job: Job
    record: LabelRecord
    def __init__(self, record: _Optional[_Union[LabelRecord, _Mapping]] = ..., job: _Optional[_Union[Job, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ["model", "problems", "request_id", "spec"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    model: str
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    request_id: str
    spec: JobSpec
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ["job"]
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class Strategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SplitMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ScoreLayout(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Aggregation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ScoreMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
