// A bound task receives its request as its first parameter: without one, nothing can.
#[canter_macros::task(bind)]
async fn ping() {}

fn main() {}
