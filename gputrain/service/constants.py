"""Every tunable number of the training service, in one place, each with its unit."""

from __future__ import annotations

# HTTP
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
TOKEN_ENV = "GPUTRAIN_TOKEN"
HOSTS_ENV = "GPUTRAIN_ALLOWED_HOSTS"  # default --allowed-hosts of `gputrain serve`
SERVER_ENV = "GPUTRAIN_SERVER"  # default --server for `gputrain jobs`
CLIENT_RECONNECT_SECONDS = 120.0  # seconds `jobs wait` keeps trying a server that restarts
DATA_DIR_ENV = "GPUTRAIN_DATA_DIR"
DEFAULT_MAX_UPLOAD_BYTES = 8 * 1024**3  # bytes (8 GiB): a large text corpus fits
MAX_REQUEST_BODY_BYTES = 64 * 1024  # bytes: any request body but an upload (413 above)
MAX_SPEC_BYTES = 16 * 1024  # bytes: a job's params as stored JSON (413 above)
MAX_NAME_CHARS = 1024  # characters in an input's name
MAX_NAME_PART_BYTES = 200  # bytes (UTF-8) between slashes: the upload's temporary name adds 16
UPLOAD_CHUNK_BYTES = 1024**2  # bytes written per chunk while streaming an upload
DEFAULT_LIST_LIMIT = 100  # jobs returned by GET /jobs unless ?limit= says otherwise
MAX_LIST_LIMIT = 10_000  # jobs
DEFAULT_NEIGHBORS = 10  # results of /models/{id}/neighbors and /analogy
MAX_NEIGHBORS = 1000  # results
MODEL_CACHE_SIZE = 4  # finished jobs' vectors kept loaded in memory
HTTP_GRACEFUL_SHUTDOWN_SECONDS = 5.0  # seconds uvicorn waits for open connections

# Layout of DATA_DIR
DB_FILENAME = "jobs.sqlite3"
DATA_DIR_MODE = 0o700  # DATA_DIR and its subdirectories, when the server creates them
DB_FILE_MODE = 0o600  # jobs.sqlite3 (SQLite gives its -wal/-shm files the same mode)
LOCK_FILENAME = "server.lock"
INPUTS_DIRNAME = "inputs"
JOBS_DIRNAME = "jobs"
EVENTS_FILENAME = "events.jsonl"
LOG_FILENAME = "trainer.log"

# SQLite
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0  # seconds a writer waits for the database lock

# Workers and trainer subprocesses
WORKER_POLL_SECONDS = 0.5  # seconds between looks at the queue when it is empty
HEARTBEAT_SECONDS = 5.0  # seconds between writes of a quiet running job's updated_at (after a
# crash, run time ends there: the server's downtime is not counted)
TAIL_POLL_SECONDS = 0.25  # seconds between reads of a running trainer's event file
SHUTDOWN_SECONDS = 30.0  # seconds from the first SIGTERM to the server's exit, at most
TRAINER_STOP_SECONDS = 20.0  # seconds a trainer gets to checkpoint after SIGTERM
CANCEL_GRACE_SECONDS = 5.0  # seconds a cancelled trainer gets before SIGKILL
MAX_RECOVERIES = 3  # server deaths during one job (OOM?) before the job is failed
ORPHAN_GRACE_SECONDS = 10.0  # seconds a previous server's trainer gets before SIGKILL
W2V_CHECKPOINT_EVERY_WORDS = 20_000_000  # words between word2vec checkpoints, unless a job
# sets checkpoint_every itself (also one at each epoch end and on SIGTERM)
NO_SPACE_RETRY_SECONDS = 2.0  # seconds between tries of a write that found the disk full
LOW_SPACE_BYTES = 1024**2  # bytes: less free space than this after a failed job = disk full
ERROR_MESSAGE_CHARS = 500  # characters of a trainer's stderr kept as the job's error

# Metrics
JOB_DURATION_BUCKETS_SECONDS = (
    1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400
)  # seconds
DEVICE_MEMORY_CACHE_SECONDS = 2.0  # seconds a device-memory reading is reused
