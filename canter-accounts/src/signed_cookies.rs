//! Django's signed cookies (`response.set_signed_cookie`, `request.get_signed_cookie`): the
//! value readable, its signature bound to the cookie's name and a salt, so a Django site and a
//! canter service read each other's.
//!
//! ```
//! use canter_accounts::signed_cookies::{sign_cookie, unsign_cookie};
//!
//! let keys = (b"secret".to_vec(), vec![]);
//! let value = sign_cookie(&keys, "theme", "", "dark");
//! assert!(value.starts_with("dark:"));
//! assert_eq!(unsign_cookie(&keys, "theme", "", &value, None).as_deref(), Some("dark"));
//! assert_eq!(unsign_cookie(&keys, "other", "", &value, None), None, "bound to its name");
//! ```

use crate::signing::Signer;

/// Django's `get_cookie_signer(salt=_cookie_signer_salt(name, salt))`: keys prefixed with
/// `django.http.cookies`, the salt `django.http.cookies.v2:<len(salt)>:<salt><name>`.
fn signer(keys: &(Vec<u8>, Vec<Vec<u8>>), name: &str, salt: &str) -> Signer {
    let prefixed = |key: &Vec<u8>| {
        let mut out = b"django.http.cookies".to_vec();
        out.extend_from_slice(key);
        out
    };
    Signer::new(
        prefixed(&keys.0),
        keys.1.iter().map(prefixed).collect(),
        &format!("django.http.cookies.v2:{}:{salt}{name}", salt.len()),
    )
}

/// The signed value of cookie `name` (`set_signed_cookie(name, value, salt=salt)`); `keys`
/// are the secret key and its fallbacks ([`crate::sessions::secret_keys`]).
pub fn sign_cookie(keys: &(Vec<u8>, Vec<Vec<u8>>), name: &str, salt: &str, value: &str) -> String {
    signer(keys, name, salt).sign(value)
}

/// The value of a signed cookie, if its signature holds and it is at most `max_age`
/// seconds old (`get_signed_cookie(name, salt=salt, max_age=max_age)`).
pub fn unsign_cookie(
    keys: &(Vec<u8>, Vec<Vec<u8>>),
    name: &str,
    salt: &str,
    signed: &str,
    max_age: Option<u64>,
) -> Option<String> {
    signer(keys, name, salt)
        .unsign(signed, max_age)
        .ok()
        .map(str::to_owned)
}
