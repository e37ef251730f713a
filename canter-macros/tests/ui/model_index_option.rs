// `index(...)` takes no condition (a partial index is a `unique(...)` here), nor unknown keys.
use canter_macros::Model;

#[derive(Model)]
#[model(index(fields = ["sku"], condition = "price > 0"))]
struct Product {
    id: i64,
    sku: String,
    price: i64,
}

fn main() {}
