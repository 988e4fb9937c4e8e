// A user: profile, interests, history and suggested interests, and the user's current recommendations with
// method, reason, explore marks and score, beside the same list at another diversity or cf_weight. The lists
// are previews (not logged): looking at them counts in no metric and no experiment.
import { api, ApiError, explain } from "../api.js";
import { h, clear, fixed, when, table, field, lookupForm } from "../dom.js";

const N = 10;
const HISTORY = 20;

function lookup(current) {
  return lookupForm({ noun: "user", view: "users", label: "User id", name: "user_id", current });
}

function recommendationTable(caption, answer, id) {
  return table(
    caption,
    [
      { key: "rank", label: "#", num: true, cell: (r) => r.rank },
      { key: "title", label: "Item", cell: (r) => h("a", { href: `#/items/${encodeURIComponent(r.content_id)}` }, r.title) },
      { key: "category", label: "Category", cell: (r) => r.category },
      { key: "method", label: "Method", cell: (r) => h("span", { class: r.method === "explore" ? "tag explore" : "tag" }, r.method === "explore" ? "explore ✦" : r.method) },
      { key: "score", label: "Score", num: true, cell: (r) => fixed(r.score, 3) },
      { key: "reason", label: "Reason", cell: (r) => r.reason },
    ],
    answer.recommendations.map((r, i) => ({ ...r, rank: i + 1 })),
    { id },
  );
}

function settingsLine(answer, settings) {
  const parts = [`model ${answer.model_version || "none"}`];
  if (answer.experiment) parts.push(`experiment ${answer.experiment}: ${answer.variant || "default ranking"}`);
  parts.push(settings);
  return h("p", { class: "muted" }, parts.join(" · "));
}

async function recommend(userId, extra) {
  return api("/recommendations/", { method: "POST", body: { user_id: userId, n_recommendations: N, preview: true, ...extra } });
}

export async function render(userId, { isCurrent }) {
  if (!userId) {
    clear(document.getElementById("main")).append(
      h("h1", {}, "Users"),
      lookup(""),
      h("p", { class: "muted" }, "Enter a user id to see its profile, history and current recommendations."),
    );
    document.getElementById("user-id").focus();
    return;
  }
  const id = encodeURIComponent(userId);
  let user;
  try {
    user = await api(`/users/${id}`, { query: { history_limit: HISTORY } });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    if (!isCurrent()) return;
    clear(document.getElementById("main")).append(h("h1", {}, "Users"), lookup(userId), h("p", { class: "error", role: "alert", id: "user-error" }, explain(error)));
    return;
  }
  const [suggested, answer] = await Promise.all([api(`/users/${id}/suggested-interests`, { query: { n: 5 } }), recommend(userId, {})]);
  // a variant's overrides replace the request's own fields: say which, so a comparison is not misread
  let overrides = {};
  if (answer.experiment && answer.variant) {
    const experiment = await api(`/experiments/${encodeURIComponent(answer.experiment)}`);
    overrides = (experiment.variants.find((v) => v.name === answer.variant) || {}).overrides || {};
  }
  if (!isCurrent()) return;
  const fixedHere = ["diversity", "cf_weight"].filter((k) => k in overrides);
  const main = clear(document.getElementById("main"));
  const diversity = h("input", { id: "cmp-diversity", type: "number", min: "0", max: "1", step: "0.05", value: "0.5" });
  const cfWeight = h("input", { id: "cmp-cf-weight", type: "number", min: "0", max: "1", step: "0.05", value: "0.5" });
  const compareOut = h("div", { id: "compare-out" });
  const compareMessage = h("p", { role: "status", id: "compare-message" });
  const compare = h(
    "form",
    { class: "inline", id: "compare-form", "aria-label": "Compare at other settings" },
    field("diversity (0–1)", diversity),
    field("cf_weight (0–1)", cfWeight),
    h("button", { type: "submit" }, "Compare"),
  );
  compare.addEventListener("submit", async (event) => {
    event.preventDefault();
    compareMessage.className = "";
    compareMessage.textContent = "";
    try {
      const settings = { diversity: Number(diversity.value), cf_weight: Number(cfWeight.value) };
      const other = await recommend(userId, settings);
      clear(compareOut).append(settingsLine(other, `diversity ${settings.diversity}, cf_weight ${settings.cf_weight}`), recommendationTable("At these settings", other, "recs-compare"));
    } catch (error) {
      compareMessage.className = "error";
      compareMessage.textContent = explain(error);
    }
  });
  main.append(
    h("h1", {}, `User ${user.user_id}`),
    lookup(userId),
    h(
      "dl",
      { class: "fields", id: "profile" },
      h("dt", {}, "Interests"),
      h("dd", { id: "interests" }, user.interests.length ? user.interests.map((i) => h("span", { class: "tag" }, i)) : "none"),
      h("dt", {}, "Skill level"),
      h("dd", {}, user.skill_level),
      h("dt", {}, "Created"),
      h("dd", {}, when(user.created_at)),
      h("dt", {}, "Suggested interests"),
      h("dd", { id: "suggested" }, suggested.suggestions.length ? suggested.suggestions.map((s) => h("span", { class: "tag" }, `${s.interest} (${(s.share * 100).toFixed(1)}%)`)) : "none", h("span", { class: "muted" }, ` from ${suggested.source}`)),
    ),
    answer.needs_interests ? h("p", { class: "notice" }, "This user has too little history and no interests: ask for some (suggested above).") : "",
    h("h2", {}, `History (latest ${HISTORY})`),
    user.history.length
      ? h("ol", { id: "history" }, user.history.map((cid) => h("li", {}, h("a", { href: `#/items/${encodeURIComponent(cid)}` }, cid))))
      : h("p", { class: "muted", id: "history" }, "no interactions yet"),
    h("h2", {}, "Recommendations now"),
    h("p", { class: "muted" }, "Previews: not logged, so they count in no metric or experiment. ✦ marks a slot given to exploration (a young item, chosen by Thompson sampling)."),
    h(
      "div",
      { class: "columns" },
      h("section", { "aria-label": "Default settings" }, settingsLine(answer, "the trained settings"), recommendationTable("At the trained settings", answer, "recs")),
      h(
        "section",
        { "aria-label": "Other settings" },
        compare,
        fixedHere.length
          ? h("p", { class: "notice", id: "overridden" }, `This user is in variant ${answer.variant} of ${answer.experiment}, which sets ${fixedHere.map((k) => `${k} = ${overrides[k]}`).join(" and ")}: a value asked here for ${fixedHere.join(" or ")} is replaced by it.`)
          : "",
        compareMessage,
        compareOut,
      ),
    ),
  );
}
