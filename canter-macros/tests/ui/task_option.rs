// An unknown key in `#[task(...)]`.
#[canter_macros::task(queue = "mail", retries = 3)]
async fn send_mail() {}

fn main() {}
