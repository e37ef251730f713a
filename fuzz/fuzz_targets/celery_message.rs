//! The Celery message decoder (kombu's Redis envelope + protocol v2 body), and the other readers
//! of what Redis hands a worker: never a panic; a message that decodes re-encodes to one that
//! decodes to the same task.
#![no_main]

use canter_tasks::brokers::redis::celery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let _ = celery::restored(raw);
    let _ = celery::decode_result(raw);
    let _ = celery::parse_iso8601(raw);
    let Ok(received) = celery::decode_message(raw, "celery") else {
        return;
    };
    let _ = celery::resend(raw, 1, 0.0);
    let m = &received.message;
    let (envelope, _) = celery::encode_message(m, "gen1@fuzz", "reply");
    let again = celery::decode_message(&envelope, "celery")
        .unwrap_or_else(|e| panic!("our envelope of {m:?} does not decode: {e:?}"))
        .message;
    assert_eq!(
        (
            &again.id,
            &again.name,
            &again.queue,
            &again.args,
            &again.embed
        ),
        (&m.id, &m.name, &m.queue, &m.args, &m.embed)
    );
});
