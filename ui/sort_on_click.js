() => {
  // The candidate table sorts on one click of a header, and a second click reverses it.
  // Gradio 6 sorts from a header's menu (Sort ascending / Sort descending); the page's CSS
  // spreads the menu's button over the header, and this picks the menu's item at once.
  // Another column first clears the sort: Gradio would keep the old one as the first key.
  // Capture phase: Gradio's header handlers stop the click from bubbling.
  let last = null;
  let direction = "descending";
  let reopening = false;
  const pick = (label) => {
    const items = document.querySelectorAll('.cell-menu [role="menuitem"]');
    const item = [...items].find((candidate) => candidate.textContent.trim() === label);
    if (item) item.click();
  };
  document.addEventListener(
    "click",
    (event) => {
      if (reopening) return;
      const header = event.target.closest ? event.target.closest("#candidates th") : null;
      if (!header) return;
      const key = header.getAttribute("data-testid");
      const again = key === last;
      direction = again && direction === "ascending" ? "descending" : "ascending";
      last = key;
      setTimeout(() => {
        if (!again) {
          pick("Clear sort");
          reopening = true;
          header.querySelector(".cell-menu-button")?.click();
          reopening = false;
        }
        setTimeout(() => pick("Sort " + direction), 0);
      }, 0);
    },
    true,
  );
}
