// `widget` names one of the widgets.
#[derive(canter_macros::Form)]
struct NoteForm {
    #[form(widget = "richtext")]
    title: String,
}

fn main() {}
