//! `area recipes`: the ready-made areas, and `area recipes --use ID VALUE…` to create one with
//! the values it asks for (the same recipes as the app's gallery).

use area_core::app::App;

use crate::commands::services::table;
use crate::commands::CliError;
use crate::output::Output;

/// Lists every recipe with the values it asks for.
pub fn list(app: &App, out: Output) {
    let recipes = app.recipes();
    out.print(&recipes, || {
        let mut rows = vec![["ID", "RECIPE", "ASKS FOR"].map(String::from).to_vec()];
        rows.extend(recipes.iter().map(|r| {
            let asks: Vec<String> = r
                .asks
                .iter()
                .map(|a| format!("{} ({})", a.field.rsplit('.').next().unwrap_or(&a.field), a.example))
                .collect();
            vec![r.id.clone(), r.title.clone(), if asks.is_empty() { "nothing".into() } else { asks.join(", ") }]
        }));
        format!("{}\ncreate one: area recipes --use ID VALUE… (values in the order listed)", table(&rows))
    });
}

/// Creates an area from a recipe, switched on like one made in the app.
pub async fn create(app: &App, out: Output, id: &str, values: &[String]) -> Result<(), CliError> {
    let form = app.recipe_form(id, values)?;
    let area = app.create_area(form).await?;
    out.print(&area, || {
        format!(
            "created area {} “{}” (on: its first check records what exists, then new items fire)",
            area.id, area.name
        )
    });
    Ok(())
}
