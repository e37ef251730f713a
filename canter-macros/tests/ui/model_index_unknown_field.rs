// Each field an index names is a column of the model (the misspelt one is pointed at).
use canter_macros::Model;

#[derive(Model)]
#[model(unique(fields = ["shop", "skew"]))]
struct Product {
    id: i64,
    shop: i64,
    sku: String,
}

fn main() {}
