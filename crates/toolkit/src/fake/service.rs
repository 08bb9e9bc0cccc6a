//! [`Service`]: a fake's description — routes, auth, error shape and catalogue — and
//! the one order every fake answers in.

use junction_core::fake::{FakeContext, FakeRequest, FakeResponse};

use crate::fake::{
    auth::{Auth, Refusal, Refused},
    faults,
    reply::{ErrorShape, names},
    route::{Call, Found, Route, find},
};

/// A fake of one provider entry.
///
/// [`Service::serve`] answers a request in this order, the same for every fake:
/// 1. the route is looked up (an unknown one is answered at once when
///    [`Service::routes_first`], else after the credential check); public routes go
///    straight to their handler;
/// 2. a `ServerError` fault answers;
/// 3. the credential is checked ([`Auth`]; `ExpiredToken` makes it expired), a
///    refusal answered with the catalogue's entry of that name (or by
///    [`Service::refuse`]);
/// 4. `RateLimited` and `QuotaExhausted` faults answer;
/// 5. the credential's grants are checked against the route's needs;
/// 6. an unknown path is `not_found`, a known path with another method
///    `wrong_method` (with `Allow`) where the catalogue has it;
/// 7. the provider's [`Service::guard`] may refuse (a bad version header);
/// 8. the handler answers; a `MalformedBody` fault cuts a successful answer, else
///    [`Service::decorate`] adds what every complete answer of the API carries (its
///    unknown paths' included).
///
/// The answers are the entries of the error catalogue ([`crate::fake::reply`]).
#[derive(Debug)]
pub struct Service<S: 'static> {
    /// The API prefix patterns without a leading `/` are below: the adapter's
    /// [`crate::BaseUrl::prefix`].
    pub prefix: &'static str,
    pub routes: &'static [Route<S>],
    pub auth: Auth,
    /// The error shape, with the catalogue the service's answers come from.
    pub errors: ErrorShape,
    /// Words a refusal where the catalogue cannot (Stripe quotes the key masked).
    pub refuse: Option<fn(&Refusal, &FakeRequest) -> FakeResponse>,
    /// Answer unknown paths before anything else (Google's front end, Stripe).
    pub routes_first: bool,
    pub guard: Option<fn(&Call<'_>) -> Option<FakeResponse>>,
    pub decorate: Option<fn(FakeResponse) -> FakeResponse>,
}

// Not derived: a derive would ask `S: Clone`.
impl<S> Clone for Service<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Service<S> {}

impl<S> Service<S> {
    /// A service with the usual defaults: refusals from the catalogue, no guard, no
    /// decoration, unknown paths answered after the credential check.
    pub const fn new(
        prefix: &'static str,
        routes: &'static [Route<S>],
        auth: Auth,
        errors: ErrorShape,
    ) -> Self {
        Self {
            prefix,
            routes,
            auth,
            errors,
            refuse: None,
            routes_first: false,
            guard: None,
            decorate: None,
        }
    }

    pub const fn refuse(self, refuse: fn(&Refusal, &FakeRequest) -> FakeResponse) -> Self {
        Self {
            refuse: Some(refuse),
            ..self
        }
    }

    pub const fn routes_first(self) -> Self {
        Self {
            routes_first: true,
            ..self
        }
    }

    pub const fn guard(self, guard: fn(&Call<'_>) -> Option<FakeResponse>) -> Self {
        Self {
            guard: Some(guard),
            ..self
        }
    }

    pub const fn decorate(self, decorate: fn(FakeResponse) -> FakeResponse) -> Self {
        Self {
            decorate: Some(decorate),
            ..self
        }
    }

    /// Answers `request` (see the type's docs for the order).
    pub fn serve(
        &self,
        state: &mut S,
        request: &FakeRequest,
        ctx: &FakeContext<'_>,
    ) -> FakeResponse {
        let found = find(
            self.routes,
            self.prefix,
            request.method.as_str(),
            &request.path,
        );
        let mut call = Call::new(request, ctx);
        if let Found::Route(route, params) = &found
            && route.public
        {
            call.params = params.clone();
            return (route.handler)(state, &call);
        }
        if self.routes_first && !matches!(found, Found::Route(..)) {
            return self.miss(&found, request);
        }
        if let Some(answer) = faults::before_auth(&self.errors, ctx.fault) {
            return answer;
        }
        let principal = match self.auth.check(request, ctx.tokens, ctx.fault) {
            Ok(principal) => principal,
            Err(refusal) => return self.refusal(&refusal, request),
        };
        if let Some(answer) = faults::after_auth(&self.errors, ctx.fault) {
            return answer;
        }
        let needs = match &found {
            Found::Route(route, _) => route.needs.unwrap_or(self.auth.needs),
            _ => self.auth.needs,
        };
        if !principal.may(needs) {
            let refusal = Refusal {
                why: Refused::Insufficient,
                token: principal.token,
                credential: Some(principal.credential),
            };
            return self.refusal(&refusal, request);
        }
        let Found::Route(route, params) = found else {
            return self.decorated(self.miss(&found, request));
        };
        call.principal = Some(principal);
        call.params = params;
        if let Some(refused) = self.guard.and_then(|guard| guard(&call)) {
            return refused;
        }
        let response = (route.handler)(state, &call);
        match faults::answered(ctx.fault, response) {
            Ok(response) => self.decorated(response),
            Err(cut) => cut,
        }
    }

    /// `response` with what every complete answer of the API carries.
    fn decorated(&self, response: FakeResponse) -> FakeResponse {
        match self.decorate {
            Some(decorate) => decorate(response),
            None => response,
        }
    }

    /// The route's answer to `request` made on behalf of `caller`, without
    /// credentials or faults: for requests a provider runs for its caller (the
    /// operations of a batch). `None` when no route takes it.
    pub fn dispatch(
        &self,
        state: &mut S,
        caller: &Call<'_>,
        request: &FakeRequest,
    ) -> Option<FakeResponse> {
        match find(
            self.routes,
            self.prefix,
            request.method.as_str(),
            &request.path,
        ) {
            Found::Route(route, params) => {
                let call = Call {
                    request,
                    now: caller.now,
                    fault: None,
                    tokens: caller.tokens,
                    principal: caller.principal.clone(),
                    params,
                };
                Some((route.handler)(state, &call))
            }
            _ => None,
        }
    }

    /// The answer to a refused credential: the provider's words for it.
    pub fn refusal(&self, refusal: &Refusal, request: &FakeRequest) -> FakeResponse {
        if let Some(refuse) = self.refuse {
            return refuse(refusal, request);
        }
        let name = match refusal.why {
            Refused::Missing => names::MISSING,
            Refused::Insufficient => names::INSUFFICIENT,
            Refused::Expired if self.errors.has(names::EXPIRED) => names::EXPIRED,
            Refused::Disabled if self.errors.has(names::DISABLED) => names::DISABLED,
            Refused::Unknown | Refused::Expired | Refused::Disabled => names::UNKNOWN,
        };
        let credential = refusal.credential.as_deref().unwrap_or_default();
        self.errors.named(name, &[("credential", credential)])
    }

    /// The answer to an unknown path or method.
    pub fn miss(&self, found: &Found<'_, S>, request: &FakeRequest) -> FakeResponse {
        let path = request.path.trim_end_matches('/');
        let mut vars = vec![("method", request.method.as_str()), ("path", path)];
        let allowed = match found {
            Found::Method(allowed) if self.errors.has(names::WRONG_METHOD) => allowed.join(", "),
            _ => return self.errors.named(names::NOT_FOUND, &vars),
        };
        vars.push(("allow", &allowed));
        self.errors
            .named(names::WRONG_METHOD, &vars)
            .with_header("allow", &allowed)
    }
}
