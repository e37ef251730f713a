// Durations are numbers of seconds.
#[canter_macros::task(time_limit = "30s")]
async fn send_mail() {}

fn main() {}
