import { describe, expect, test } from "vitest";
import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import ParamField from "./ParamField.svelte";
import Wizard from "./Wizard.svelte";
import { apiError, fakeCore } from "../test/fakeCore";
import type { ParamSpec } from "../lib/api";

const body = {
  id: "body",
  label: "Message",
  help: "",
  type: "string",
  required: false,
  default: null,
  templated: true,
} as ParamSpec;

const INGREDIENTS = [
  { id: "title", description: "The entry's title", example: "Hello" },
  { id: "link", description: "Link to the entry", example: "https://x" },
];

describe("ingredient picker", () => {
  test("opens from the keyboard and inserts the chosen ingredient at the cursor", async () => {
    const user = userEvent.setup();
    render(ParamField, { props: { param: body, value: "Read  now", ingredients: INGREDIENTS } });
    const field = screen.getByTestId("param-body") as HTMLTextAreaElement;
    field.focus();
    field.setSelectionRange(5, 5); // between the two spaces
    const button = screen.getByTestId("ingredient-picker-body");
    button.focus();
    expect(button.getAttribute("aria-expanded")).toBe("false");
    await user.keyboard("{ArrowDown}");
    expect(button.getAttribute("aria-expanded")).toBe("true");
    const first = await screen.findByTestId("ingredient-title");
    expect(first.getAttribute("aria-selected")).toBe("true");
    await user.keyboard("{ArrowDown}");
    expect(screen.getByTestId("ingredient-link").getAttribute("aria-selected")).toBe("true");
    await user.keyboard("{Enter}");
    await waitFor(() => expect(field.value).toBe("Read {{ link }} now"));
    expect(screen.queryByTestId("ingredient-link")).toBeNull(); // closed
    expect(document.activeElement).toBe(field);
    expect(field.selectionStart).toBe("Read {{ link }}".length);
  });

  test("Escape closes the list and typing filters it", async () => {
    const user = userEvent.setup();
    render(ParamField, { props: { param: body, value: "", ingredients: INGREDIENTS } });
    await user.click(screen.getByTestId("ingredient-picker-body"));
    await user.keyboard("lin");
    expect(screen.queryByTestId("ingredient-title")).toBeNull();
    expect(screen.getByTestId("ingredient-link")).toBeTruthy();
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("ingredient-link")).toBeNull();
    expect(document.activeElement).toBe(screen.getByTestId("ingredient-picker-body"));
  });

  test("a dynamic trigger lets the user name a field", async () => {
    const user = userEvent.setup();
    render(ParamField, { props: { param: body, value: "", ingredients: [], allowCustom: true } });
    await user.click(screen.getByTestId("ingredient-picker-body"));
    await user.keyboard("msg");
    await user.click(await screen.findByTestId("ingredient-msg"));
    expect((screen.getByTestId("param-body") as HTMLTextAreaElement).value).toBe("{{ msg }}");
  });

  test("sample values from 'Load a sample event' are shown in the picker", async () => {
    const core = fakeCore();
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.click(await screen.findByTestId("pick-service-rss"));
    await user.type(await screen.findByTestId("param-url"), "https://blog.example.org/feed.xml");
    await user.click(screen.getByTestId("load-sample"));
    expect((await screen.findByTestId("sample-values")).textContent).toContain("Sampled title");
    expect(core.called("sample_event")[0].args).toEqual({
      service: "rss",
      action: "new_item",
      params: { url: "https://blog.example.org/feed.xml" },
      allowPrivateNetwork: false,
    });
    await user.click(screen.getByTestId("wizard-next"));
    await user.click(await screen.findByTestId("pick-service-notify"));
    await user.click(await screen.findByTestId("ingredient-picker-title"));
    expect((await screen.findByTestId("ingredient-sample-title")).textContent).toContain("Sampled title");
    expect(screen.getByTestId("ingredient-sample-link").textContent).toContain("https://example.org/s");
  });

  test("a local feed is refused in words, and one click allows local addresses for the area and retries", async () => {
    let calls = 0;
    const core = fakeCore({
      sample_event: (a) => {
        calls++;
        if (!a.allowPrivateNetwork) {
          throw apiError("invalid", "127.0.0.1 is on this computer or your local network: allow local addresses for this area to read from it", "allow_private_network");
        }
        return { ingredients: [{ id: "title", value: "Local title" }], items: 1 };
      },
    });
    const user = userEvent.setup();
    render(Wizard, { props: {} });
    await user.click(await screen.findByTestId("pick-service-rss"));
    await user.type(await screen.findByTestId("param-url"), "http://127.0.0.1:8080/feed.xml");
    await user.click(screen.getByTestId("load-sample"));
    const allow = await screen.findByTestId("allow-local");
    expect(screen.getByText(/127\.0\.0\.1 is on this computer or your local network/)).toBeTruthy();
    expect(screen.queryByText(/AREA_ALLOW_PRIVATE_NETWORK/)).toBeNull();
    await user.click(allow);
    expect((await screen.findByTestId("sample-values")).textContent).toContain("Local title");
    expect(calls).toBe(2);
    expect(core.called("sample_event")[1].args.allowPrivateNetwork).toBe(true);
    // The same switch is the review's.
    await user.click(screen.getByTestId("wizard-next"));
    await user.click(await screen.findByTestId("pick-service-notify"));
    await user.type(await screen.findByTestId("param-title"), "t");
    await user.click(screen.getByTestId("wizard-next"));
    expect(((await screen.findByTestId("area-private-network")) as HTMLInputElement).checked).toBe(true);
  });
});
