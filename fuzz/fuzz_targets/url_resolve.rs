//! URL resolution: a fuzzed path, percent-decoded as a request's is, resolved against a URL
//! conf using every built-in converter; a match reverses to a path that resolves to the same
//! route with the same parameters. Percent-decoding agrees with the `percent-encoding` crate
//! (RFC 3986, as Python's `unquote`), and encoding then decoding gives the text back.
#![no_main]

use std::sync::LazyLock;

use canter_core::routing::{
    include, path, percent_decode, percent_encode_path, Converters, Resolver,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

async fn view() -> &'static str {
    ""
}

static RESOLVER: LazyLock<Resolver> = LazyLock::new(|| {
    let patterns = vec![
        path("", view).name("root"),
        path("literal/page/", view).name("literal"),
        path("int/<int:n>/", view).name("int"),
        path("str/<str:s>/", view).name("str"),
        path("bare/<s>/", view).name("bare"),
        path("slug/<slug:s>/", view).name("slug"),
        path("uuid/<uuid:u>/", view).name("uuid"),
        path("path/<path:p>", view).name("path"),
        path("mixed/<int:year>/<slug:slug>/<str:rest>/", view).name("mixed"),
        include(
            "ns/",
            vec![
                path("<uuid:u>/<path:p>/end/", view).name("deep"),
                path("<int:a>-<int:b>/", view).name("pair"),
            ],
        )
        .namespace("ns"),
    ];
    Resolver::new(patterns, &Converters::default()).expect("the URL conf compiles")
});

/// A parameter as `reverse` takes it.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = percent_decode(input);
    let reference = percent_encoding::percent_decode_str(input)
        .decode_utf8()
        .ok();
    assert_eq!(
        decoded.as_deref(),
        reference.as_deref(),
        "decoding {input:?}"
    );
    assert_eq!(
        percent_decode(&percent_encode_path(input)).as_deref(),
        Some(input),
        "encoding {input:?} and back"
    );
    let Some(decoded) = decoded else { return };
    let path = decoded.strip_prefix('/').unwrap_or(&decoded);
    let Some((pattern, name, params)) = RESOLVER.resolve_for_fuzzing(path) else {
        return;
    };
    let name = name.expect("every route is named");
    let args: Vec<(&str, String)> = params.iter().map(|(k, v)| (k.as_str(), text(v))).collect();
    let url = RESOLVER
        .reverse(name, &args)
        .unwrap_or_else(|e| panic!("{path:?} resolved to {pattern:?} but does not reverse: {e}"));
    let back = percent_decode(&url).expect("a reversed URL decodes");
    let again = RESOLVER.resolve_for_fuzzing(back.strip_prefix('/').unwrap_or(&back));
    assert_eq!(
        again,
        Some((pattern, Some(name), params)),
        "{path:?} reversed to {url:?}"
    );
});
