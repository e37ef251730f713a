// `autoretry_for` names error kinds as strings.
#[canter_macros::task(autoretry_for = ["Timeout", Connection])]
async fn send_mail() {}

fn main() {}
