// `check(...)` needs both `name` and `sql`.
use canter_macros::Model;

#[derive(Model)]
#[model(check(sql = "price > 0"))]
struct Product {
    id: i64,
    price: i64,
}

fn main() {}
