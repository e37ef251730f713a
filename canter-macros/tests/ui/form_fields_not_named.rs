// A form's fields have names (they are the inputs' names).
#[derive(canter_macros::Form)]
struct NoteForm(String);

fn main() {}
