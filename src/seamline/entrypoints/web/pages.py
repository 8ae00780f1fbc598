"""The dashboard's pages and actions (server-rendered; a little progressive JS at most).

Handlers are thin: they read the request, call the ``DashboardService`` and render a template.
Every page but ``/login`` needs a signed-in person when users are configured; every POST needs
the session's CSRF token and, besides sign-in and sign-out, a role that may act (``admin`` or
``operator``): a viewer gets 403 and sees no action buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from seamline import __version__
from seamline.config import Settings
from seamline.domain.dashboard import ExceptionFilter
from seamline.exceptions import OWNERS, SeamlineError
from seamline.logging import get_logger, redact_text
from seamline.services.dashboard import DashboardService

from .auth import SESSION_COOKIE, LoginLimiter, Sessions, User, csrf_ok

__all__ = ["Forbidden", "SignInRequired", "Web", "dashboard_router"]

log = get_logger("seamline.web")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
STATES = ("open", "resolved", "skipped", "all")
MAX_ID = 2**31 - 1
MAX_ORDER = 2**53

IdPath = Annotated[int, PathParam(ge=1, le=MAX_ID)]
NoteForm = Annotated[str, Form(max_length=2000)]
CsrfForm = Annotated[str, Form(max_length=200)]


class SignInRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class Forbidden(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _safe_next(value: str | None) -> str:
    """A local path to go back to after sign-in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _secure(request: Request, settings: Settings) -> bool:
    mode = settings.web.secure_cookies
    if mode != "auto":
        return mode == "always"
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or proto == "https"


class Web:
    """What every handler shares: the settings, the service, sessions and the limiter."""

    def __init__(self, settings: Settings, service: Callable[[], DashboardService],
                 sessions: Sessions, limiter: LoginLimiter) -> None:
        self.settings = settings
        self.service = service
        self.sessions = sessions
        self.limiter = limiter

    def set_cookie(self, response: Response, request: Request, value: str) -> None:
        response.set_cookie(SESSION_COOKIE, value, max_age=self.sessions.max_age_s,
                            httponly=True, samesite="lax",
                            secure=_secure(request, self.settings), path="/")

    def session(self, request: Request) -> dict[str, Any]:
        data: dict[str, Any] = getattr(request.state, "session", None) or self.sessions.read(
            request.cookies.get(SESSION_COOKIE))
        request.state.session = data
        return data

    def current(self, request: Request) -> User:
        """The person asking; ``SignInRequired`` when users are configured and none is."""
        data = self.session(request)
        if self.sessions.open:
            return User("anonymous", "viewer", str(data.get("c") or ""))
        user = self.sessions.user(data)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(target)
        return user

    def actor(self, request: Request, token: str | None) -> User:
        """The person, allowed to act, with this session's CSRF token (else ``Forbidden``)."""
        user = self.current(request)
        given = token or request.headers.get("x-csrf-token")
        if not csrf_ok(user.csrf, given):
            raise Forbidden("the form has expired or did not come from this dashboard; "
                            "reload the page and try again")
        if not user.can_act:
            raise Forbidden(f"{user.name} may read but not act (role {user.role})")
        return user

    def render(self, request: Request, name: str, context: dict[str, Any], *,
               status: int = 200) -> HTMLResponse:
        user = self.current(request)
        data = self.session(request)
        flash = data.get("f")
        refresh = request.query_params.get("refresh") == "1"
        response = TEMPLATES.TemplateResponse(
            request, name,
            {"version": __version__, "user": user, "csrf": user.csrf, "flash": flash,
             "open_mode": self.sessions.open, "refresh": refresh, "path": request.url.path,
             **context},
            status_code=status)
        if flash or not data.get("c"):
            # Show the message once; make sure every visitor has a CSRF token.
            value, _ = self.sessions.issue(None if self.sessions.open else data.get("u"),
                                           csrf=user.csrf or None)
            self.set_cookie(response, request, value)
        return response

    def back(self, request: Request, url: str, message: str) -> RedirectResponse:
        """Redirect (303) to ``url``, showing ``message`` there once."""
        data = self.session(request)
        response = RedirectResponse(url, status_code=303)
        name = None if self.sessions.open else data.get("u")
        value, _ = self.sessions.issue(name, csrf=str(data.get("c") or "") or None,
                                       flash=message)
        self.set_cookie(response, request, value)
        return response


def _hours(text: str | None) -> float | None:
    """The age filter in hours (an empty field, as a form sends it, is no filter)."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if 0 <= value <= 100_000 else None


def _filter(type_: str | None, owner: str | None, state: str | None, age: str | None,
            q: str | None) -> ExceptionFilter:
    st = state if state in STATES else "open"
    return ExceptionFilter(
        state=None if st == "all" else st, owner=owner if owner in OWNERS else None,
        type=type_ or None, older_than_h=_hours(age), q=(q or "").strip() or None)


def dashboard_router(settings: Settings, service: Callable[[], DashboardService],
                     sessions: Sessions, limiter: LoginLimiter) -> APIRouter:
    """The pages under ``/`` (overview), ``/exceptions``, ``/orders``, ``/stock``,
    ``/reconciliation``, ``/config``, and ``/login`` / ``/logout``."""
    router = APIRouter()
    web = Web(settings, service, sessions, limiter)
    _sign_in_routes(router, web)
    _exception_routes(router, web)
    _action_routes(router, web)
    _page_routes(router, web)
    return router


def _sign_in_routes(router: APIRouter, web: Web) -> None:
    """``/login`` (the form, then the sign-in) and ``/logout``."""

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request,
                   next: Annotated[str, Query(max_length=500)] = "/") -> HTMLResponse:
        data = web.session(request)
        value, token = web.sessions.issue(None, csrf=str(data.get("c") or "") or None)
        response = TEMPLATES.TemplateResponse(
            request, "login.html", {"version": __version__, "csrf": token,
                                    "next": _safe_next(next), "open_mode": web.sessions.open,
                                    "error": data.get("f"), "user": None, "flash": None,
                                    "refresh": False, "path": "/login"})
        web.set_cookie(response, request, value)
        return response

    @router.post("/login")
    def login(request: Request, *, username: Annotated[str, Form(max_length=64)],
              password: Annotated[str, Form(max_length=1024)], csrf_token: CsrfForm,
              next: Annotated[str, Form(max_length=500)] = "/") -> Response:
        data = web.session(request)
        if not csrf_ok(str(data.get("c") or ""), csrf_token):
            raise Forbidden("the sign-in form has expired; reload it and try again")
        client = request.client.host if request.client else "unknown"
        keys = (f"name:{username}", f"addr:{client}")
        wait = web.limiter.locked(*keys)
        if wait > 0:
            log.warning("sign-in refused: too many failures", user=username, client=client)
            return web.back(request, f"/login?next={quote(_safe_next(next))}",
                            f"too many failed sign-ins; try again in {int(wait) + 1} s")
        user = web.sessions.authenticate(username, password)
        if user is None:
            web.limiter.failed(*keys)
            log.warning("sign-in failed", user=username, client=client)
            return web.back(request, f"/login?next={quote(_safe_next(next))}",
                            "wrong name or password")
        web.limiter.succeeded(*keys)
        log.info("signed in", user=user.name, role=user.role, client=client)
        response = RedirectResponse(_safe_next(next), status_code=303)
        value, _ = web.sessions.issue(user.name)  # a new CSRF token with the new session
        web.set_cookie(response, request, value)
        return response

    @router.post("/logout")
    def logout(request: Request, csrf_token: CsrfForm) -> Response:
        data = web.session(request)
        if not csrf_ok(str(data.get("c") or ""), csrf_token):
            raise Forbidden("the form has expired; reload the page and try again")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _exception_routes(router: APIRouter, web: Web) -> None:
    """The overview, the exceptions list (and its bulk retry) and one exception."""

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        web.current(request)
        svc = web.service()
        try:
            return web.render(request, "overview.html", {"o": svc.overview()})
        except SeamlineError as exc:
            return web.render(request, "error.html", {
                "error": f"The store is not reachable: {redact_text(exc.message)}"}, status=503)

    # -- exceptions -----------------------------------------------------------------------

    @router.get("/exceptions", response_class=HTMLResponse)
    def exceptions_list(
        request: Request,
        *,
        type: Annotated[str | None, Query(max_length=64)] = None,
        owner: Annotated[str | None, Query(max_length=32)] = None,
        state: Annotated[str | None, Query(max_length=16)] = "open",
        age: Annotated[str | None, Query(max_length=16)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> HTMLResponse:
        web.current(request)
        svc = web.service()
        f = _filter(type, owner, state, age, q)
        result = svc.exceptions_page(f, page)
        params = {k: v for k, v in {"type": f.type, "owner": f.owner,
                                    "state": state if state in STATES else "open",
                                    "age": f.older_than_h, "q": f.q}.items() if v is not None}
        return web.render(request, "exceptions.html", {
            "page": result, "rows": svc.exception_times(result.rows), "f": f,
            "state": params["state"], "age": f.older_than_h, "types": svc.exception_types(),
            "owners": OWNERS, "states": STATES, "query": urlencode(params),
            "params": params})

    @router.post("/exceptions/bulk-retry")
    def bulk_retry(
        request: Request, *, csrf_token: CsrfForm,
        type: Annotated[str | None, Form(max_length=64)] = None,
        owner: Annotated[str | None, Form(max_length=32)] = None,
        age: Annotated[str | None, Form(max_length=16)] = None,
        q: Annotated[str | None, Form(max_length=200)] = None,
    ) -> Response:
        user = web.actor(request, csrf_token)
        f = _filter(type, owner, "open", age, q)
        out = web.service().bulk_retry(f, actor=f"web:{user.name}")
        log.info("bulk retry", user=user.name, matched=out.matched, retried=out.retried)
        params = {k: v for k, v in {"type": f.type, "owner": f.owner, "age": f.older_than_h,
                                    "q": f.q}.items() if v is not None}
        message = (f"bulk retry: {out.retried} of {out.matched} exception(s) queued again "
                   f"({out.orders} order(s), {out.jobs} job(s))")
        if out.skipped:
            message += f"; not retried: {'; '.join(out.skipped[:5])}"
        return web.back(request, "/exceptions?" + urlencode(params), message)

    @router.get("/exceptions/{exception_id}", response_class=HTMLResponse)
    def exception_detail(request: Request, exception_id: IdPath) -> HTMLResponse:
        web.current(request)
        found = web.service().exception(exception_id)
        if found is None:
            return web.render(request, "error.html",
                          {"error": f"exception {exception_id} does not exist"}, status=404)
        return web.render(request, "exception.html", found)


def _action_routes(router: APIRouter, web: Web) -> None:
    """What people do with one exception: retry, edit-and-retry, skip, resolve."""

    def _act(request: Request, exception_id: int, token: str,
             do: Callable[[User], str]) -> Response:
        user = web.actor(request, token)
        try:
            message = do(user)
        except SeamlineError as exc:
            message = f"not done: {exc.message}"
        log.info("exception action", user=user.name, exception_id=exception_id, outcome=message)
        return web.back(request, f"/exceptions/{exception_id}", message)

    @router.post("/exceptions/{exception_id}/retry")
    def retry(request: Request, exception_id: IdPath, csrf_token: CsrfForm) -> Response:
        return _act(request, exception_id, csrf_token, lambda u: "retried: " + web.service().retry(
            exception_id, actor=f"web:{u.name}").text())

    @router.post("/exceptions/{exception_id}/edit-retry")
    def edit_retry(request: Request, exception_id: IdPath, csrf_token: CsrfForm,
                   payload: Annotated[str, Form(max_length=100_000)]) -> Response:
        return _act(request, exception_id, csrf_token,
                    lambda u: "edited and retried: " + web.service().edit_and_retry(
                        exception_id, payload, actor=f"web:{u.name}").text())

    @router.post("/exceptions/{exception_id}/skip")
    def skip(request: Request, exception_id: IdPath, csrf_token: CsrfForm,
             note: NoteForm = "") -> Response:
        def do(u: User) -> str:
            web.service().skip(exception_id, actor=f"web:{u.name}", note=note)
            return "skipped"
        return _act(request, exception_id, csrf_token, do)

    @router.post("/exceptions/{exception_id}/resolve")
    def resolve(request: Request, exception_id: IdPath, csrf_token: CsrfForm,
                note: NoteForm = "") -> Response:
        def do(u: User) -> str:
            web.service().resolve(exception_id, actor=f"web:{u.name}", note=note)
            return "resolved"
        return _act(request, exception_id, csrf_token, do)


def _page_routes(router: APIRouter, web: Web) -> None:
    """The order trace, stock, reconciliation and configuration pages."""

    @router.get("/orders", response_class=HTMLResponse, response_model=None)
    def find_order(request: Request, *,
                   number: Annotated[str | None, Query(max_length=40)] = None,
                   state: Annotated[str, Query(max_length=16)] = "parked",
                   page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
        web.current(request)
        text = (number or "").strip().lstrip("#")
        if text.isdigit() and 1 <= int(text) <= MAX_ORDER:
            return RedirectResponse(f"/orders/{int(text)}", status_code=303)
        return web.render(request, "order_search.html",
                          {"number": number, "bad": bool(number),
                           "w": web.service().waiting_orders(state, page)})

    @router.get("/orders/{number}", response_class=HTMLResponse)
    def order(request: Request,
              number: Annotated[int, PathParam(ge=1, le=MAX_ORDER)]) -> HTMLResponse:
        web.current(request)
        svc = web.service()
        trace = svc.order_trace(number)
        if trace is None:
            return web.render(request, "order_search.html",
                              {"number": str(number), "bad": False, "missing": True,
                               "w": svc.waiting_orders("parked", 1)}, status=404)
        return web.render(request, "order.html", {
            "t": trace, "jobs": svc.job_times(trace["jobs"]),
            "excs": svc.exception_times(trace["exceptions"])})

    # -- stock, reconciliation, configuration ---------------------------------------------

    @router.get("/stock", response_class=HTMLResponse)
    def stock(request: Request) -> HTMLResponse:
        web.current(request)
        return web.render(request, "stock.html", {"s": web.service().stock()})

    @router.get("/reconciliation", response_class=HTMLResponse)
    def reconciliation(request: Request) -> HTMLResponse:
        web.current(request)
        return web.render(request, "reconciliation.html", {"reports": web.service().reports(),
                                                       "report": None})

    @router.get("/reconciliation/{day}/{market}", response_class=HTMLResponse)
    def reconciliation_report(request: Request, day: date,
                              market: Annotated[str, PathParam(max_length=64)]) -> HTMLResponse:
        web.current(request)
        svc = web.service()
        html = svc.report(day, market)
        if html is None:
            return web.render(request, "error.html",
                          {"error": f"no reconciliation report for {day} {market}"},
                          status=404)
        return web.render(request, "reconciliation.html", {"reports": svc.reports(),
                                                       "report": html, "day": day,
                                                       "market": market})

    @router.get("/config", response_class=HTMLResponse)
    def configuration(request: Request) -> HTMLResponse:
        web.current(request)
        return web.render(request, "config.html", {"config": web.service().configuration()})
