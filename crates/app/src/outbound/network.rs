//! Where webhook deliveries may go. An endpoint is a URL a workspace's API key
//! chooses, and the worker POSTs to it from inside the installation's network and
//! shows the answer back: without a check, any tenant could reach (and read) the
//! installation's internal services. So by default an endpoint must be a public
//! address — checked on the URL when it is set, and on every address its host
//! resolves to when a delivery connects (a name that resolves to a private address,
//! even one that changed since the URL was checked, gets no connection).
//! `JUNCTION_OUTBOUND_ALLOW_PRIVATE_NETWORKS=true` lifts it (development, a
//! receiver on the same network).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Longest endpoint URL, in characters (the table's check says the same).
pub const MAX_URL_LEN: usize = 2048;

/// Whether an address belongs to the public internet: not loopback, private,
/// shared (carrier-grade NAT), link-local, unspecified, broadcast, multicast,
/// documentation, benchmarking or reserved space, IPv4 or IPv6 (IPv4-mapped and
/// NAT64 addresses are judged by the IPv4 address inside).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // 64:ff9b::/96, the well-known NAT64 prefix, reaches the IPv4 inside.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                // 2001:db8::/32, documentation.
                || (segments[0] == 0x2001 && segments[1] == 0x0db8)
                // ::/96, the deprecated IPv4-compatible form.
                || (segments[..6] == [0; 6] && v6 != Ipv6Addr::UNSPECIFIED))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        // 0.0.0.0/8 ("this network"), 100.64.0.0/10 (shared), 192.0.0.0/24 (IETF
        // protocol assignments), 198.18.0.0/15 (benchmarking), 240.0.0.0/4 (reserved).
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

/// What the default URL rule says, for the `url` field's error.
pub const PUBLIC_URL_RULE: &str = "must be http:// or https:// followed by a host name (not an \
     IP address, not localhost), an optional port, path and query — no credentials, fragment, \
     spaces or control characters";

/// The label of a host name: letters and digits, single hyphens inside (so never
/// an `xn--` label, which IDNA would have to decode).
pub(crate) const LABEL: &str = "[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*";
/// A port up to 65535 (leading zeros allowed, as URLs do), or none after the colon.
pub(crate) const PORT: &str =
    "(?::0*(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])?)?";

/// A top-level label: a letter, then letters and digits (never a number, so the
/// host is never read as an IPv4 address), and not `localhost` in any case —
/// spelled out as the labels that differ from it, since the pattern must do
/// without look-ahead and class subtraction (Rust's `regex` and JSON Schema's
/// ECMA-262 patterns alike).
fn top_level_label() -> String {
    const WORD: &str = "localhost";
    let class = |c: char| format!("[{}{c}]", c.to_ascii_uppercase());
    let prefix = |n: usize| WORD.chars().take(n).map(class).collect::<String>();
    let letters = ('A'..='Z').chain('a'..='z');
    let mut alternatives = Vec::new();
    for (i, c) in WORD.chars().enumerate() {
        // Differs at position i: the same first i characters, then another one.
        let others: String = letters
            .clone()
            .chain(
                if i == 0 { None } else { Some('0'..='9') }
                    .into_iter()
                    .flatten(),
            )
            .filter(|other| !other.eq_ignore_ascii_case(&c))
            .collect();
        alternatives.push(format!("{}[{others}][A-Za-z0-9]*", prefix(i)));
        // Or ends there: a proper prefix of the word.
        if i > 0 {
            alternatives.push(prefix(i));
        }
    }
    // Or goes on after the whole word.
    alternatives.push(format!("{}[A-Za-z0-9]+", prefix(WORD.len())));
    format!("(?:{})", alternatives.join("|"))
}

/// The whole default URL rule, anchored.
pub fn public_url_pattern() -> String {
    format!(
        "^[Hh][Tt][Tt][Pp][Ss]?://(?:{LABEL}\\.)*{}\\.?{PORT}(?:[/?][^#\\x00-\\x20\\x7F]*)?$",
        top_level_label()
    )
}

fn public_url_regex() -> Option<&'static regex::Regex> {
    static REGEX: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(&public_url_pattern()).ok());
    REGEX.as_ref()
}

/// Why an endpoint URL is refused, for the `url` field's error.
pub fn check_url(url: &str, allow_private: bool) -> Result<Url, String> {
    if url.chars().count() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    if !allow_private && !public_url_regex().is_some_and(|regex| regex.is_match(url)) {
        return Err(PUBLIC_URL_RULE.into());
    }
    // The URL standard would drop them; a value is taken as given or refused.
    if url.trim_matches(|c: char| c <= ' ') != url {
        return Err("must not start or end with spaces or control characters".into());
    }
    let parsed = Url::parse(url).map_err(|e| format!("is not a valid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "must not carry credentials (user:password@): deliveries are signed instead".into(),
        );
    }
    if parsed.fragment().is_some() {
        return Err("must not have a fragment (#...): it is never sent".into());
    }
    if parsed.host().is_none() {
        return Err("must name a host".into());
    }
    Ok(parsed)
}

/// Whether a URL's host can be public: an IP literal is judged now, `localhost`
/// and its subdomains never are, other names when they resolve.
fn host_may_be_public(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => is_public(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => is_public(IpAddr::V6(*ip)),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name != "localhost" && !name.ends_with(".localhost")
        }
    }
}

/// Whether a delivery may go to `url` now (the same check as [`check_url`], for a
/// URL stored before the installation's setting changed).
pub fn may_deliver_to(url: &Url, allow_private: bool) -> bool {
    allow_private || url.host().is_some_and(|host| host_may_be_public(&host))
}

/// The resolver of the delivery client: the system's, keeping only public
/// addresses unless private networks are allowed.
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver {
    pub allow_private: bool,
}

impl PublicResolver {
    pub fn shared(allow_private: bool) -> Arc<Self> {
        Arc::new(Self { allow_private })
    }
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            if usable.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_recognised() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(ip(private)), "{private} is not public");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn urls_follow_the_default_rule() {
        for accepted in [
            "https://hooks.example.com/junction?x=1",
            "http://hooks.example.com",
            "HTTPS://Hooks.Example.COM.:08443/a%20b/../c?q=%zz&r=s",
            "https://a-b.c1.io:65535",
            "https://x.y:",
            "https://local",
            "https://localhosts.example/x",
            "https://my.localhostx",
            "https://a.example/\u{fc}/\\back",
        ] {
            let url = check_url(accepted, false);
            assert!(url.is_ok(), "{accepted}: {url:?}");
        }
        let refused = |url: &str| check_url(url, false).unwrap_err();
        for url in [
            "ftp://hooks.example.com",
            "not a url",
            " https://hooks.example.com",
            "https://hooks.example.com/x y",
            "https://hooks.example.com/x ",
            "https://user:pw@hooks.example.com",
            "https://hooks.example.com/#frag",
            "http://127.0.0.1:9000/hook",
            "http://localhost:9000/hook",
            "http://LocalHost/hook",
            "http://api.localhost./hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest",
            "http://8.8.8.8/",
            "http://0x7f.1/",
            "http://a.0x1/",
            "https://b\u{fc}cher.example/",
            "https://xn--bcher-kva.example/",
            "https://a-.example/",
            "https://hooks.example.com:65536/",
            "https://hooks.example.com/\tx",
        ] {
            assert_eq!(refused(url), PUBLIC_URL_RULE, "{url}");
        }
        assert!(
            refused(&format!("https://a.example/{}", "x".repeat(MAX_URL_LEN))).contains("at most")
        );
        // Private networks allowed: any http(s) URL without credentials or fragment.
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("http://localhost/hook", true).is_ok());
        let private = |url: &str| check_url(url, true).unwrap_err();
        assert!(private("ftp://hooks.example.com").contains("http or https"));
        assert!(private("https://user:pw@hooks.example.com").contains("credentials"));
        assert!(private("https://hooks.example.com/#frag").contains("fragment"));
        assert!(private(" https://hooks.example.com").contains("spaces"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]

        /// Every URL the default rule matches (within the length limit) is accepted:
        /// it parses as an http(s) URL naming a domain, which deliveries may go to.
        #[test]
        fn every_url_the_default_rule_matches_is_accepted(
            url in proptest::string::string_regex(
                public_url_pattern().trim_start_matches('^').trim_end_matches('$'),
            )
            .unwrap()
        ) {
            // The API's schema bounds the length beside the pattern.
            proptest::prop_assume!(url.chars().count() <= MAX_URL_LEN);
            let checked = check_url(&url, false);
            proptest::prop_assert!(checked.is_ok(), "{url}: {checked:?}");
            let parsed = checked.unwrap();
            proptest::prop_assert!(matches!(parsed.host(), Some(Host::Domain(_))));
            proptest::prop_assert!(may_deliver_to(&parsed, false));
        }
    }

    #[test]
    fn localhost_is_no_top_level_label_in_any_case() {
        let regex = public_url_regex().unwrap();
        for host in [
            "localhost",
            "LOCALHOST",
            "lOcAlHoSt",
            "a.localhost",
            "a.localhost.",
        ] {
            assert!(!regex.is_match(&format!("https://{host}/")), "{host}");
        }
        for host in [
            "localhos",
            "localhost1",
            "localhosts",
            "localhast",
            "l",
            "xlocalhost",
        ] {
            assert!(regex.is_match(&format!("https://{host}/")), "{host}");
        }
    }

    #[test]
    fn deliveries_go_to_public_hosts_only_unless_allowed() {
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(may_deliver_to(&url("https://hooks.example.com/"), false));
        assert!(!may_deliver_to(&url("http://127.0.0.1/"), false));
        assert!(!may_deliver_to(&url("http://localhost/"), false));
        assert!(!may_deliver_to(&url("http://[fe80::1]/"), false));
        assert!(may_deliver_to(&url("http://127.0.0.1/"), true));
    }

    #[tokio::test]
    async fn the_resolver_keeps_public_addresses_only() {
        let strict = PublicResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().unwrap();
        let refused = strict.resolve(name).await;
        assert!(refused.is_err_and(|e| e.to_string().contains("no public address")));
        let open = PublicResolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().unwrap();
        let found: Vec<SocketAddr> = open.resolve(name).await.unwrap().collect();
        assert!(found.iter().any(|addr| addr.ip().is_loopback()));
    }
}
