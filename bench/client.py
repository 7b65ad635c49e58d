"""A tiny keep-alive HTTP client with a cookie jar, plus the login and link-discovery steps."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode

SESSION_COOKIE = "iptcare_session"
CSRF_COOKIE = "iptcare_csrftoken"
LOGIN_PATH = "/account/login/"

PROGRAM_LINK = re.compile(r"^/programs/[0-9a-f-]{36}/clients/$")
CLIENT_LINK = re.compile(r"^/clients/[0-9a-f-]{36}/$")

# Errors after which a keep-alive connection is dropped and opened again.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException)


class BenchError(RuntimeError):
    """The app did not behave as the benchmark needs (login failed, no client link...)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _PageParser(HTMLParser):
    """Collects link targets and form inputs (name -> value) from one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        elif tag == "input" and values.get("name"):
            self.inputs[values["name"]] = values.get("value", "")


def parse_page(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


class HttpSession:
    """One persistent HTTP/1.1 connection to the app on loopback, with its own cookies.

    Not thread-safe: each load-generator thread owns one session.
    """

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._conn: http.client.HTTPConnection | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def _store_cookies(self, response: http.client.HTTPResponse) -> None:
        for header in response.msg.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request on the kept-alive connection; reconnects once if it went stale."""
        all_headers = {"Accept": "text/html,application/json", "Connection": "keep-alive"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        all_headers.update(headers or {})
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=all_headers)
                raw = conn.getresponse()
                data = raw.read()
            except CONNECTION_ERRORS:
                self.close()
                # A server may close an idle keep-alive connection; retry once on a fresh one.
                if attempt == 2:
                    raise
                continue
            self._store_cookies(raw)
            if raw.will_close:
                self.close()
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data)
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def status_only(self, path: str) -> int:
        """GET ``path`` and return just the status: the load generator's hot path."""
        return self.request("GET", path).status


def login(session: HttpSession, username: str, password: str) -> None:
    """Sign in through the HTML form (CSRF cookie + hidden token), keeping the session cookie."""
    page = session.get(LOGIN_PATH)
    if page.status != 200:
        raise BenchError(f"GET {LOGIN_PATH} returned {page.status}")
    token = parse_page(page.text()).inputs.get("csrfmiddlewaretoken")
    if not token or CSRF_COOKIE not in session.cookies:
        raise BenchError(f"no CSRF token or {CSRF_COOKIE} cookie on the login page")
    form = urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": ""}
    ).encode()
    result = session.request(
        "POST",
        LOGIN_PATH,
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": session.origin + LOGIN_PATH,
        },
    )
    if result.status not in (302, 303) or SESSION_COOKIE not in session.cookies:
        raise BenchError(
            f"login as {username} failed: HTTP {result.status}, cookies {sorted(session.cookies)}"
        )
    home = session.get("/")
    if home.status != 200:
        location = home.headers.get("location", "")
        raise BenchError(
            f"after login GET / returned {home.status} {location} "
            "(is IPTCARE_REQUIRE_MFA=0 honoured?)"
        )


def find_client_path(session: HttpSession, max_programs: int = 20) -> str:
    """The first client on the user's caseload; else home -> first program -> first client."""
    caseload = session.get("/caseload/")
    if caseload.status == 200:
        mine = [link for link in parse_page(caseload.text()).links if CLIENT_LINK.match(link)]
        if mine:
            return mine[0]
    home = session.get("/")
    if home.status != 200:
        raise BenchError(f"GET / returned {home.status}")
    programs = [link for link in parse_page(home.text()).links if PROGRAM_LINK.match(link)]
    if not programs:
        raise BenchError("the home page lists no program links (/programs/<uuid>/clients/)")
    for program in programs[:max_programs]:
        page = session.get(program)
        if page.status != 200:
            continue
        clients = [link for link in parse_page(page.text()).links if CLIENT_LINK.match(link)]
        if clients:
            return clients[0]
    raise BenchError(f"none of {len(programs)} program pages links to a client (/clients/<uuid>/)")
