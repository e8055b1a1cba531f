"""The HTTP API (FastAPI): jobs, inputs (:mod:`~gputrain.service.inputs_api`), artifacts,
vector queries, health, readiness and metrics.

``/healthz``, ``/readyz``, ``/metrics`` and the docs are open; everything else needs
``Authorization: Bearer <token>`` when the server has a token (compared in constant time).
Every request first passes :mod:`~gputrain.service.guards` (Host, body size). Errors (their
shapes in :mod:`~gputrain.service.docs`): 400 a path that leaves the data directory or a
name too long, a foreign Host; 401 no or wrong token; 404 unknown job/file/word; 409 wrong
job state, an input in use; 413 a body, params or upload over its limit; 422 an invalid spec
(``detail[].loc`` names the field, ``detail[].msg`` the reason); 507 a full disk.
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from gputrain import __version__
from gputrain.errors import GputrainError
from gputrain.service import specs
from gputrain.service.constants import (
    DEFAULT_LIST_LIMIT,
    DEFAULT_NEIGHBORS,
    MAX_LIST_LIMIT,
    MAX_NEIGHBORS,
    MAX_SPEC_BYTES,
)
from gputrain.service.docs import ERROR_RESPONSES, serve_docs
from gputrain.service.guards import RequestGuard
from gputrain.service.inputs import (
    file_digest,
    input_changed,
    resolve_input,
)
from gputrain.service.inputs_api import InputRoutes
from gputrain.service.models import ModelCache
from gputrain.service.nospace import NoSpace
from gputrain.service.runner import mpi_missing
from gputrain.service.states import InvalidTransition, JobKind, JobState
from gputrain.service.store import Job

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo ("param") is a 422, not ignored

    kind: Literal["w2v", "mlp"] = Field(description="What to train.")
    input: str = Field(description="Input file, relative to DATA_DIR/inputs.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The trainer's CLI options by name, e.g. {\"epochs\": 2, \"min_count\": 1}.",
    )
    devices: int = Field(
        1, ge=1, description="GPUs to train on: more than 1 runs the job as that many "
        "mpiexec ranks, each on its own GPU of this server (none shared with another job).",
    )


def _spec_error(e: specs.SpecError, redact) -> HTTPException:
    """400 or 422 naming the field; ``redact`` takes the server's paths out of the reason."""
    if isinstance(e, specs.SpecPathError):
        return HTTPException(400, f"{e.field}: {redact(e.reason)}")
    loc = ["body", *e.field.split(".", 1)]
    return HTTPException(422, [{"loc": loc, "msg": redact(e.reason), "type": "value_error"}])


def create_app(supervisor, token: str | None, max_upload_bytes: int,
               hosts: frozenset | None = None) -> FastAPI:
    app = FastAPI(title="gputrain", version=__version__, docs_url=None, redoc_url=None,
                  description="Training jobs for word2vec and MLPs on GPU nodes.")
    serve_docs(app)
    app.add_middleware(RequestGuard, hosts=hosts)
    data, store = supervisor.data, supervisor.store
    models = ModelCache()
    expected = token.encode() if token else None

    def require_token(creds: Credentials) -> None:
        if expected is None:
            return
        given = creds.credentials.encode() if creds is not None else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, "missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    api = APIRouter(dependencies=[Depends(require_token)], responses=ERROR_RESPONSES)

    @app.exception_handler(NoSpace)
    async def no_space(request: Request, exc: NoSpace) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=507)

    def get_job(job_id: str) -> Job:
        job = store.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        return {"status": "stopping" if supervisor.stopping.is_set() else "ok",
                "version": __version__, "workers": supervisor.device_names}

    @app.get("/readyz", tags=["ops"])
    def readyz(response: Response) -> dict:
        """Ready for work: the store takes writes (and the disk has room), every worker is
        alive, every GPU worker's device is seen. 503 with the failing checks otherwise."""
        checks = supervisor.readiness()
        ready = all(c["ok"] for c in checks.values())
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "not ready", "checks": checks}

    @app.get("/metrics", tags=["ops"])
    def metrics() -> Response:
        return Response(generate_latest(supervisor.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    inputs = InputRoutes(api, data, store, max_upload_bytes)

    @api.post("/jobs", status_code=201, tags=["jobs"])
    def submit(spec: JobSpec) -> dict:
        kind = JobKind(spec.kind)
        if len(json.dumps(spec.params)) > MAX_SPEC_BYTES:
            raise HTTPException(413, f"params are larger than the limit of {MAX_SPEC_BYTES} "
                                     "bytes (as JSON)")
        try:
            specs.validate(kind, spec.input, spec.params, data.inputs, data.jobs / "_check")
        except specs.SpecError as e:
            raise _spec_error(e, data.redact) from None
        if spec.devices > 1:
            gpus = supervisor.pool.size
            if spec.devices > gpus:
                raise HTTPException(400, f"devices: {spec.devices} is more than the {gpus} "
                                         "GPU(s) this server trains on (serve --devices)")
            missing = mpi_missing()
            if missing:
                raise HTTPException(400, f"devices: {spec.devices} {missing}")
        path = resolve_input(data.inputs, spec.input)  # validate() has checked it
        with inputs.lock:
            size, sha256 = file_digest(path)
            job = store.create(kind.value, inputs.name_of(path), spec.params, input_size=size,
                               input_sha256=sha256, devices=spec.devices)
        supervisor.notify()
        return job.public()

    @api.get("/jobs", tags=["jobs"])
    def list_jobs(response: Response, state: JobState | None = None,
                  limit: int = Query(DEFAULT_LIST_LIMIT, ge=1, le=MAX_LIST_LIMIT),
                  order: Literal["newest", "oldest"] = "newest",
                  after: str | None = Query(None, max_length=64,
                                            description="A job id: the page after it.")
                  ) -> list[dict]:
        """Jobs, newest first (or ``order=oldest``), a page of ``limit`` at a time; when a
        page is full, the ``X-Next-Cursor`` header is the ``after`` of the next one."""
        try:
            jobs = store.list(state, limit, newest_first=order == "newest", after=after)
        except KeyError:
            raise HTTPException(404, f"no job {after} (the after= cursor)") from None
        if len(jobs) == limit:
            response.headers["X-Next-Cursor"] = jobs[-1].id
        return [j.public() for j in jobs]

    @api.get("/jobs/{job_id}", tags=["jobs"])
    def show(job_id: str) -> dict:
        return get_job(job_id).public()

    @api.post("/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel(job_id: str) -> dict:
        get_job(job_id)
        try:
            job = store.request_cancel(job_id)
        except InvalidTransition as e:
            raise HTTPException(409, str(e)) from None
        if job.state is JobState.CANCELLED:  # it was queued: no worker will count it
            supervisor.metrics.job_finished(job.kind, JobState.CANCELLED, job.run_seconds)
        return job.public()

    @api.post("/jobs/{job_id}/retry", tags=["jobs"])
    def retry(job_id: str) -> dict:
        """Queue a failed job again; it resumes from its checkpoint when it has one."""
        job = get_job(job_id)
        with inputs.lock:
            changed = input_changed(data.inputs, job.input, job.input_size, job.input_sha256)
            if changed and job.state is JobState.FAILED:
                raise HTTPException(409, f"{changed}; submit a new job instead")
            try:
                job = store.retry(job_id)
            except InvalidTransition as e:
                raise HTTPException(409, str(e)) from None
        supervisor.notify()
        return job.public()

    @api.delete("/jobs/{job_id}", status_code=204, tags=["jobs"])
    def delete_job(job_id: str) -> Response:
        """Forget a finished job and delete its directory (outputs, checkpoints, logs)."""
        get_job(job_id)
        try:
            supervisor.forget(job_id)
        except InvalidTransition as e:
            raise HTTPException(409, str(e)) from None
        models.forget(job_id)
        return Response(status_code=204)

    def artifact_files(job: Job) -> dict[str, Path]:
        root = data.job_dir(job.id)
        if not root.is_dir():
            return {}
        return {
            p.relative_to(root).as_posix(): p
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
        }

    @api.get("/jobs/{job_id}/artifacts", tags=["artifacts"])
    def artifacts(job_id: str) -> list[dict]:
        files = artifact_files(get_job(job_id))
        return [{"name": n, "size_bytes": p.stat().st_size} for n, p in files.items()]

    @api.get("/jobs/{job_id}/artifacts/{name:path}", tags=["artifacts"])
    def artifact(job_id: str, name: str) -> FileResponse:
        files = artifact_files(get_job(job_id))
        if name not in files:
            raise HTTPException(404, f"job {job_id} has no artifact {name}")
        return FileResponse(files[name], filename=Path(name).name)

    def vectors_of(job_id: str):
        job = get_job(job_id)
        if job.kind != JobKind.W2V.value:
            raise HTTPException(409, f"job {job_id} is a {job.kind} job, not word2vec")
        if job.state is not JobState.SUCCEEDED:
            raise HTTPException(409, f"job {job_id} is {job.state.value}, not succeeded")
        path = data.job_dir(job_id) / specs.TRAINERS[JobKind.W2V].output
        try:
            return models.get(job_id, path)
        except GputrainError as e:  # the file was removed or damaged after the job
            raise HTTPException(404, f"job {job_id}: cannot read its vectors: "
                                     f"{data.redact(str(e))}") from None

    def known(kv, *words: str) -> None:
        for word in words:
            if word not in kv:
                raise HTTPException(404, f"word not in the vocabulary: {word!r}")

    @api.get("/models/{job_id}/neighbors", tags=["models"])
    def neighbors(job_id: str, word: str,
                  n: int = Query(DEFAULT_NEIGHBORS, ge=1, le=MAX_NEIGHBORS)) -> dict:
        kv = vectors_of(job_id)
        known(kv, word)
        hits = kv.most_similar(positive=[word], topn=n)
        return {"word": word, "neighbors": [{"word": w, "similarity": s} for w, s in hits]}

    @api.get("/models/{job_id}/analogy", tags=["models"])
    def analogy(job_id: str, a: str, b: str, c: str,
                n: int = Query(DEFAULT_NEIGHBORS, ge=1, le=MAX_NEIGHBORS)) -> dict:
        """a is to b as c is to ... (the words nearest to b - a + c, 3CosAdd)."""
        kv = vectors_of(job_id)
        known(kv, a, b, c)
        hits = kv.most_similar(positive=[b, c], negative=[a], topn=n)
        return {"a": a, "b": b, "c": c,
                "answers": [{"word": w, "similarity": s} for w, s in hits]}

    app.include_router(api)
    return app
