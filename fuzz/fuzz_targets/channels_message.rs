//! The channels_redis message decoder (random prefix + msgpack): never a panic; a message read
//! is written back and read again unchanged.
#![no_main]

use canter_channels::layers::redis::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // channels_redis' default prefix (12 random bytes), and none.
    for prefix in [12, 0] {
        let Ok((message, _destinations)) = wire::deserialize(data, prefix) else {
            continue;
        };
        let bytes = wire::serialize(&message.0, prefix);
        let (again, destinations) = wire::deserialize(&bytes, prefix)
            .unwrap_or_else(|e| panic!("our own bytes of {:?} do not read: {e}", message.0));
        assert_eq!(again.0, message.0);
        assert!(destinations.is_empty());
    }
});
