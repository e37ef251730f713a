// Task arguments are plain names (they become the arguments of `delay`).
#[canter_macros::task]
async fn add((a, b): (i64, i64)) -> i64 {
    a + b
}

fn main() {}
