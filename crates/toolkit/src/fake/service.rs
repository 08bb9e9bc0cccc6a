//! [`Service`]: a fake's description — routes, auth, faults, error shape — and the one
//! order every fake answers in.

use junction_core::fake::{FakeContext, FakeRequest, FakeResponse};

use crate::fake::{
    auth::{Auth, Refusal, Refused},
    faults::{Answer, Faults},
    reply::ErrorShape,
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
///    refusal answered by [`Service::refuse`];
/// 4. `RateLimited` and `QuotaExhausted` faults answer;
/// 5. the credential's grants are checked against the route's needs;
/// 6. an unknown path is 404 ([`Service::not_found`]), a known path with another
///    method 405 ([`Service::wrong_method`], with `Allow`);
/// 7. the provider's [`Service::guard`] may refuse (a bad version header);
/// 8. the handler answers, [`Service::decorate`] adds what every answer of the
///    provider carries, and a `MalformedBody` fault cuts a successful answer.
#[derive(Debug)]
pub struct Service<S: 'static> {
    /// The API prefix patterns without a leading `/` are below: the adapter's
    /// [`crate::BaseUrl::prefix`].
    pub prefix: &'static str,
    pub routes: &'static [Route<S>],
    pub auth: Auth,
    pub errors: ErrorShape,
    pub faults: Faults,
    /// The provider's words for each [`Refused`].
    pub refuse: fn(&Refusal, &FakeRequest) -> FakeResponse,
    /// An unknown path; `{method}` and `{path}` in the message are the request's.
    pub not_found: Answer,
    /// A known path with another method (`None`: answered as an unknown path).
    pub wrong_method: Option<Answer>,
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
    /// A service with the usual defaults: no guard, no decoration, unknown paths
    /// answered after the credential check.
    pub const fn new(
        prefix: &'static str,
        routes: &'static [Route<S>],
        auth: Auth,
        errors: ErrorShape,
        faults: Faults,
        refuse: fn(&Refusal, &FakeRequest) -> FakeResponse,
        not_found: Answer,
    ) -> Self {
        Self {
            prefix,
            routes,
            auth,
            errors,
            faults,
            refuse,
            not_found,
            wrong_method: None,
            routes_first: false,
            guard: None,
            decorate: None,
        }
    }

    pub const fn wrong_method(self, answer: Answer) -> Self {
        Self {
            wrong_method: Some(answer),
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
        if let Some(answer) = self.faults.before_auth(ctx.fault, &self.errors) {
            return answer;
        }
        let principal = match self.auth.check(request, ctx.tokens, ctx.fault) {
            Ok(principal) => principal,
            Err(refusal) => return (self.refuse)(&refusal, request),
        };
        if let Some(answer) = self.faults.after_auth(ctx.fault, &self.errors) {
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
            return (self.refuse)(&refusal, request);
        }
        let Found::Route(route, params) = found else {
            return self.miss(&found, request);
        };
        call.principal = Some(principal);
        call.params = params;
        if let Some(refused) = self.guard.and_then(|guard| guard(&call)) {
            return refused;
        }
        let mut response = (route.handler)(state, &call);
        if let Some(decorate) = self.decorate {
            response = decorate(response);
        }
        Faults::answered(ctx.fault, response)
    }

    /// The route's answer to `call` without credentials or faults: for requests a
    /// provider runs on the caller's behalf (the operations of a batch). `None` when
    /// no route takes it.
    pub fn dispatch(&self, state: &mut S, call: &Call<'_>) -> Option<FakeResponse> {
        let request = call.request;
        match find(
            self.routes,
            self.prefix,
            request.method.as_str(),
            &request.path,
        ) {
            Found::Route(route, params) => {
                let call = Call {
                    request,
                    now: call.now,
                    fault: None,
                    tokens: call.tokens,
                    principal: call.principal.clone(),
                    params,
                };
                Some((route.handler)(state, &call))
            }
            _ => None,
        }
    }

    /// The answer to an unknown path or method.
    pub fn miss(&self, found: &Found<'_, S>, request: &FakeRequest) -> FakeResponse {
        let (answer, allowed) = match (found, &self.wrong_method) {
            (Found::Method(allowed), Some(answer)) => (answer, Some(allowed.join(", "))),
            _ => (&self.not_found, None),
        };
        let response = match *answer {
            Answer::Error {
                status,
                code,
                message,
                headers,
            } => {
                let path = request.path.trim_end_matches('/');
                let message = message
                    .replace("{method}", request.method.as_str())
                    .replace("{path}", path);
                let reply = self.errors.reply(status, code, &message);
                headers
                    .iter()
                    .fold(reply, |reply, (name, value)| reply.with_header(name, value))
            }
            other => other.render(&self.errors, 0),
        };
        match allowed {
            Some(allowed) => response.with_header("allow", &allowed),
            None => response,
        }
    }
}
