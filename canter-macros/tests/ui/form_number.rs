// `min` and `max` are numbers.
#[derive(canter_macros::Form)]
struct NoteForm {
    #[form(min = "zero")]
    count: i64,
}

fn main() {}
