// `unique` is "refuse" or "fold".
#[canter_macros::task(unique = "merge")]
async fn send_mail() {}

fn main() {}
