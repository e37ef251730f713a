// `rate_limit` is a count per second, minute or hour.
#[canter_macros::task(rate_limit = "100/d")]
async fn send_mail() {}

fn main() {}
