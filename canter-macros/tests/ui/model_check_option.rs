// `check(...)` takes only `name` and `sql`.
use canter_macros::Model;

#[derive(Model)]
#[model(check(name = "price_positive", condition = "price > 0"))]
struct Product {
    id: i64,
    price: i64,
}

fn main() {}
