// A model's fields have names (they name its columns).
use canter_macros::Model;

#[derive(Model)]
struct Point(i64, i64);

fn main() {}
