"""The kit's token verifier consults the gateway's revocation view: cached for ttl_s, the last
view kept while the gateway is unreachable, 503 while none was ever obtained."""

from __future__ import annotations

from typing import Any

import pytest

from pilnveide_kit.auth import KeySet, TokenVerifier, verifier_from_settings
from pilnveide_kit.revocations import (
    ClientDeactivated,
    RevocationList,
    RevocationsUnavailable,
    TokenRevoked,
    parse_view,
)
from pilnveide_kit.settings import ServiceSettings
from pilnveide_kit.testing import TokenFactory

URL = "http://gateway.test/auth/revocations"


class FakeGateway:
    """Answers the revocation view it holds; counts fetches; can be 'down'."""

    def __init__(self) -> None:
        self.clients: dict[str, dict[str, Any]] = {}
        self.fetches = 0
        self.down = False

    def __call__(self, url: str, timeout_s: float) -> Any:
        assert url == URL and timeout_s > 0
        self.fetches += 1
        if self.down:
            raise ConnectionError("gateway unreachable")
        return {"generated_at": 0, "clients": dict(self.clients)}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(tokens: TokenFactory, gateway: FakeGateway, clock: Clock) -> TokenVerifier:
    revocations = RevocationList(URL, ttl_s=5.0, fetch=gateway, clock=clock)
    return TokenVerifier(
        KeySet(jwks_json=tokens.jwks_json),
        issuer=tokens.issuer,
        audience=tokens.audience,
        revocations=revocations,
    )


def test_a_deactivation_is_seen_once_the_cached_view_is_older_than_ttl(
    verifier: TokenVerifier, tokens: TokenFactory, gateway: FakeGateway, clock: Clock
) -> None:
    token = tokens.token("records:read", client_id="lms-a")
    assert verifier.verify(token).client_id == "lms-a"
    gateway.clients["lms-a"] = {"active": False, "not_before": 2_000_000_000}
    clock.now += 4.9  # within ttl: the cached view still says nothing
    assert verifier.verify(token).client_id == "lms-a"
    assert gateway.fetches == 1
    clock.now += 0.1  # ttl reached: fetched again, refused
    with pytest.raises(ClientDeactivated) as refused:
        verifier.verify(token)
    assert refused.value.status == 401 and gateway.fetches == 2


def test_reactivation_does_not_revive_tokens_issued_before_not_before(
    verifier: TokenVerifier, tokens: TokenFactory, gateway: FakeGateway
) -> None:
    gateway.clients["lms-a"] = {"active": True, "not_before": 1_800_000_000}
    with pytest.raises(TokenRevoked):
        verifier.verify(tokens.token("records:read", client_id="lms-a", iat=1_799_999_999))
    fresh = tokens.token("records:read", client_id="lms-a", iat=1_800_000_000)
    assert verifier.verify(fresh).issued_at == 1_800_000_000
    # Other clients are untouched.
    assert verifier.verify(tokens.token("records:read", client_id="hr-b", iat=1)).client_id


def test_the_last_view_is_kept_while_the_gateway_is_unreachable(
    verifier: TokenVerifier, tokens: TokenFactory, gateway: FakeGateway, clock: Clock
) -> None:
    gateway.clients["lms-a"] = {"active": False, "not_before": None}
    token = tokens.token("records:read", client_id="lms-a")
    with pytest.raises(ClientDeactivated):
        verifier.verify(token)
    gateway.down = True
    clock.now += 60
    with pytest.raises(ClientDeactivated):
        verifier.verify(token)
    assert verifier.verify(tokens.token("records:read", client_id="hr-b")).client_id == "hr-b"
    assert gateway.fetches == 2  # one failed refresh, then none until ttl has passed again


def test_no_view_yet_means_503_and_no_token_accepted(
    verifier: TokenVerifier, tokens: TokenFactory, gateway: FakeGateway, clock: Clock
) -> None:
    gateway.down = True
    with pytest.raises(RevocationsUnavailable) as unavailable:
        verifier.verify(tokens.token("records:read"))
    assert unavailable.value.status == 503 and "Retry-After" in unavailable.value.headers
    gateway.down = False
    clock.now += 5
    assert verifier.verify(tokens.token("records:read")).client_id == "test-client"


def test_with_no_view_yet_every_request_tries_again(
    verifier: TokenVerifier, tokens: TokenFactory, gateway: FakeGateway, clock: Clock
) -> None:
    # Services start before the gateway: the background thread's first tries fail, and a
    # request that came a moment later must not be refused for them (the restart in
    # test_system met 503 after such a try), nor wait the TTL (the fuzz run saw 5 s of 503s).
    gateway.down = True
    with pytest.raises(RevocationsUnavailable):
        verifier.verify(tokens.token("records:read"))
    gateway.down = False
    assert verifier.verify(tokens.token("records:read")).client_id == "test-client"
    assert gateway.fetches == 2
    clock.now += 1
    assert verifier.verify(tokens.token("records:read")).client_id == "test-client"
    assert gateway.fetches == 2  # a view is held: fetched again only after the TTL


def test_warm_up_fetches_the_view_before_the_first_request(
    tokens: TokenFactory, gateway: FakeGateway, clock: Clock
) -> None:
    revocations = RevocationList(URL, ttl_s=5.0, fetch=gateway, clock=clock)
    gateway.down = True
    naps: list[float] = []

    def sleep(seconds: float) -> None:  # the gateway comes up after two tries
        naps.append(seconds)
        clock.now += seconds
        gateway.down = len(naps) < 2

    assert revocations.warm_up(within_s=10, sleep=sleep) is True
    assert (gateway.fetches, naps) == (3, [0.5, 0.5])
    verifier = TokenVerifier(
        KeySet(jwks_json=tokens.jwks_json),
        issuer=tokens.issuer,
        audience=tokens.audience,
        revocations=revocations,
    )
    assert verifier.verify(tokens.token("records:read")).client_id == "test-client"
    assert gateway.fetches == 3  # the request used the view warm_up fetched


def test_warm_up_gives_up_after_its_time(gateway: FakeGateway, clock: Clock) -> None:
    revocations = RevocationList(URL, ttl_s=5.0, fetch=gateway, clock=clock)
    gateway.down = True

    def sleep(seconds: float) -> None:
        clock.now += seconds

    assert revocations.warm_up(within_s=2, sleep=sleep) is False
    assert gateway.fetches == 5  # at 0, 0.5, 1, 1.5 and 2 s


def test_ttl_zero_fetches_on_every_check(
    tokens: TokenFactory, gateway: FakeGateway, clock: Clock
) -> None:
    revocations = RevocationList(URL, ttl_s=0, fetch=gateway, clock=clock)
    for _ in range(3):
        assert revocations.entry("lms-a") is None
    assert gateway.fetches == 3


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"clients": []},
        {"clients": {"a": {"active": "no"}}},
        {"clients": {"a": {"active": True, "not_before": "soon"}}},
        {"clients": {"a": {"active": True, "not_before": True}}},
    ],
)
def test_a_malformed_view_is_not_taken(document: Any) -> None:
    with pytest.raises(ValueError):
        parse_view(document)


def test_services_consult_the_view_only_when_configured(tokens: TokenFactory) -> None:
    plain = ServiceSettings(auth_jwks_json=tokens.jwks_json)
    assert verifier_from_settings(plain).revocations is None
    configured = ServiceSettings(
        auth_jwks_json=tokens.jwks_json, auth_revocations_url=URL, auth_revocations_ttl_s=2
    )
    revocations = verifier_from_settings(configured).revocations
    assert isinstance(revocations, RevocationList)
    assert revocations.url == URL and revocations.ttl_s == 2


def test_keep_fresh_refreshes_every_half_ttl_so_requests_never_fetch(
    tokens: TokenFactory, gateway: FakeGateway, clock: Clock
) -> None:
    revocations = RevocationList(URL, ttl_s=5.0, fetch=gateway, clock=clock)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    revocations.keep_fresh(sleep=sleep, rounds=4)  # 10 s: the first view and four refreshes
    assert gateway.fetches == 5
    gateway.clients["lms-a"] = {"active": False, "not_before": None}
    revocations.keep_fresh(sleep=sleep, rounds=1)
    verifier = TokenVerifier(
        KeySet(jwks_json=tokens.jwks_json),
        issuer=tokens.issuer,
        audience=tokens.audience,
        revocations=revocations,
    )
    with pytest.raises(ClientDeactivated):
        verifier.verify(tokens.token("records:read", client_id="lms-a"))
    assert gateway.fetches == 6  # warm_up found the view fresh, one refresh; the request none


def test_no_background_refresh_with_a_ttl_of_zero(gateway: FakeGateway) -> None:
    assert RevocationList(URL, ttl_s=0, fetch=gateway).start_keeping_fresh() is None
    assert gateway.fetches == 0


def test_requests_that_wait_for_a_first_fetch_take_its_outcome_without_fetching_again() -> None:
    import threading

    started, release = threading.Event(), threading.Event()
    fetches: list[str] = []

    def slow_down_gateway(url: str, timeout_s: float) -> Any:
        fetches.append(url)
        started.set()
        release.wait(5)
        raise ConnectionError("gateway unreachable")

    revocations = RevocationList(URL, ttl_s=5.0, fetch=slow_down_gateway)

    class CountingLock:
        """The list's lock, counting the threads that came to it."""

        def __init__(self) -> None:
            self.inner, self.came = threading.Lock(), 0

        def __enter__(self) -> None:
            self.came += 1
            self.inner.acquire()

        def __exit__(self, *exc: object) -> None:
            self.inner.release()

    lock = CountingLock()
    revocations._lock = lock
    outcomes: list[str] = []

    def check() -> None:
        try:
            revocations.view()
            outcomes.append("view")
        except RevocationsUnavailable:
            outcomes.append("503")

    first = threading.Thread(target=check)
    first.start()
    assert started.wait(5)
    waiting = [threading.Thread(target=check) for _ in range(3)]
    for thread in waiting:
        thread.start()
    while lock.came < 4:  # every request is at the lock before the first fetch ends
        threading.Event().wait(0.01)
    release.set()
    for thread in [first, *waiting]:
        thread.join(5)
    assert outcomes == ["503"] * 4 and len(fetches) == 1
