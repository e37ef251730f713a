// `unique(...)` names the fields it covers.
use canter_macros::Model;

#[derive(Model)]
#[model(unique(name = "one_sku"))]
struct Product {
    id: i64,
    sku: String,
}

fn main() {}
