"""CSV import in the browser (owner only): upload, what was detected and a preview with the problems per line,
then the import with a progress bar (store_server/admin/imports.py runs it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from ... import csv_input
from ...data.db import write_transaction
from .. import imports, messages
from ..i18n import N_, translations
from ..web import Admin, Refused, back, check_csrf, owner_only, render, signed_in

router = APIRouter()
Signed = Annotated[Admin, Depends(signed_in)]
ENCODINGS = {"utf-8-sig": N_("UTF-8 with BOM"), "utf-8": N_("UTF-8"), "utf-16": N_("UTF-16"),
             "cp1251": N_("Windows-1251 (Cyrillic)")}
DELIMITERS = {",": N_("comma"), ";": N_("semicolon"), "\t": N_("tab"), "|": N_("vertical bar")}


def _start_page(request: Request, admin: Admin, status: int = 200, **context):
    with request.app.state.engine.connect() as conn:
        jobs = imports.recent(conn)
    return render(request, "import.html", admin, status=status, jobs=jobs, max_mb=imports.MAX_BYTES // 1024 // 1024,
                  **context)


@router.get("/import")
def import_page(request: Request, admin: Signed):
    owner_only(admin)
    return _start_page(request, admin)


@router.post("/import")
async def upload(request: Request, admin: Signed, csrf: Annotated[str, Form()] = "",
                 file: Annotated[UploadFile | None, File()] = None):
    check_csrf(admin, csrf)
    owner_only(admin)
    data = await file.read(imports.MAX_BYTES + 1) if file is not None else b""
    name = (file.filename if file is not None else "") or ""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_checked, request, admin, name, data)


def _checked(request: Request, admin: Admin, name: str, data: bytes):
    if not data.strip():
        return _start_page(request, admin, status=422, error="import_empty")
    if len(data) > imports.MAX_BYTES:
        return _start_page(request, admin, status=413, error="import_too_big")
    try:
        source = csv_input.read(data)
    except csv_input.CsvInputError:
        return _start_page(request, admin, status=422, error="import_not_text")
    with write_transaction(request.app.state.engine) as conn:
        job_id = imports.create(conn, by=admin.name, filename=name, source=source)
    return back(f"/admin/import/{job_id}")


def _job(request: Request, job_id: str) -> dict:
    with request.app.state.engine.connect() as conn:
        job = imports.get(conn, job_id)
    if job is None:
        raise Refused("not_found")
    return job


@router.get("/import/{job_id}")
def job_page(job_id: str, request: Request, admin: Signed):
    owner_only(admin)
    job = _job(request, job_id)
    if job["status"] == "running":
        with request.app.state.engine.connect() as conn:
            gone = imports.progress(conn, job_id)["gone"]
        if gone:
            imports.give_up(request.app.state.engine, job_id)
            job = _job(request, job_id)
    rows, problems, header = [], [], []
    gettext = translations(admin.lang).gettext

    def words(code: str, values: dict, english: str = "") -> str:
        return messages.problem(gettext, code, values, english)

    if job["status"] == "checked":
        with request.app.state.engine.connect() as conn:
            rows, found, header = imports.preview(conn, job)
        problems = [(line, words(p.code, p.values, p)) for line, p in found]
        rows = [{**r, "problems": [words(p.code, p.values, p) for p in r["problems"]]} for r in rows]
    elif job["status"] == "failed":
        problems = [(p.get("line"), words(p.get("code", ""), p.get("values") or {})) for p in imports.problems_of(job)]
    return render(request, "import_job.html", admin, job=job, rows=rows, problems=problems, header=header,
                  encoding=ENCODINGS.get(job["encoding"], job["encoding"]),
                  delimiter=DELIMITERS.get(job["delimiter"], job["delimiter"]), shown=len(rows))


@router.post("/import/{job_id}/run")
def job_run(job_id: str, request: Request, admin: Signed, csrf: Annotated[str, Form()] = ""):
    check_csrf(admin, csrf)
    owner_only(admin)
    _job(request, job_id)
    imports.start(request.app.state.engine, job_id, by=admin.name, address=admin.address)
    return back(f"/admin/import/{job_id}")


@router.get("/import/{job_id}/progress")
def job_progress(job_id: str, request: Request, admin: Signed):
    owner_only(admin)
    with request.app.state.engine.connect() as conn:
        answer = imports.progress(conn, job_id)
    if answer is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    if answer.pop("gone", False):
        imports.give_up(request.app.state.engine, job_id)
        with request.app.state.engine.connect() as conn:
            answer = imports.progress(conn, job_id)
    gettext = translations(admin.lang).gettext
    answer["problems"] = [{**p, "text": messages.problem(gettext, p.get("code", ""), p.get("values") or {})}
                          for p in answer["problems"]]
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})
