import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import Dashboard from "./Dashboard.svelte";
import Wizard from "./Wizard.svelte";
import { fakeCore } from "../test/fakeCore";
import { nav } from "../lib/state.svelte";
import type { AreaForm } from "../lib/api";

describe("recipes", () => {
  test("an empty dashboard leads with the recipe gallery; a recipe opens the wizard with it", async () => {
    fakeCore({ area_cards: () => [] });
    const user = userEvent.setup();
    nav.route = { name: "dashboard" };
    render(Dashboard, { props: {} });
    expect(await screen.findByTestId("empty-dashboard")).toBeTruthy();
    const card = await screen.findByTestId("recipe-rss-to-notification");
    expect(card.textContent).toContain("New blog post → notification");
    expect(card.textContent).toContain("RSS feeds → Notifications");
    await user.click(card);
    expect(nav.route).toEqual({ name: "wizard", recipe: "rss-to-notification" });
  });

  test("a recipe asks only for what it leaves open, then goes straight to the review: 3 clicks to save", async () => {
    const core = fakeCore();
    const user = userEvent.setup();
    let clicks = 1; // the recipe card
    render(Wizard, { props: { recipe: "rss-to-notification" } });
    // Opens on the trigger's settings, the open field showing its example.
    const url = (await screen.findByTestId("param-url")) as HTMLInputElement;
    expect(url.placeholder).toBe("https://blog.rust-lang.org/feed.xml");
    await user.type(url, "https://example.com/feed.xml");
    await user.click(screen.getByTestId("wizard-next"));
    clicks++;
    // Nothing else is open: the review, with the recipe's name.
    expect(((await screen.findByTestId("area-name")) as HTMLInputElement).value).toBe("New blog post → notification");
    await user.click(screen.getByTestId("wizard-save"));
    clicks++;
    await waitFor(() => expect(core.called("create_area")).toHaveLength(1));
    const form = core.called("create_area")[0].args.form as AreaForm;
    expect(form.action).toEqual({ service: "rss", id: "new_item", params: { url: "https://example.com/feed.xml" } });
    expect(form.reactions).toEqual([{ service: "notify", id: "send", params: { title: "{{ title }}" } }]);
    expect(clicks).toBeLessThanOrEqual(6);
  });
});
